/**
 * `qstat -f -F json -x <ids>` (PBS Pro ≥ 19, OpenPBS) → job records.
 * The document is `{ timestamp, pbs_version, pbs_server, Jobs: { "<id>": { <attribute>: value | { … } } } }`;
 * nested objects (Resource_List, resources_used, Variable_List) become dotted attribute names, as
 * `qstat -f` text prints them. Broken JSON from PBS's writer is read by pbs-json.ts.
 * https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf (qstat, "-F json")
 */
import { ParseError } from '../../src/core/errors.js'
import { buildPbsJobRecord, type PbsJobRecord, type PbsParseOptions } from './pbs-job-record.js'
import { isJsonObject, type PbsJsonValue, parsePbsJson } from './pbs-json.js'

const SOURCE = 'qstat -F json'

/**
 * Parse `qstat -f -F json` output into one record per job, in the order printed. Empty output and a
 * document without `Jobs` (PBS prints none when no job matched) are zero jobs.
 * @throws ParseError naming the job and attribute for malformed JSON, a non-object job, a bad id, a
 *   missing job_state or a malformed typed value (exit status, times, walltime).
 */
export function parseQstatJson(stdout: string, options: PbsParseOptions = {}): PbsJobRecord[] {
  if (stdout.trim() === '') return []
  const document = parsePbsJson(stdout, SOURCE)
  if (!isJsonObject(document)) throw new ParseError(SOURCE, 'the document is not a JSON object', stdout)
  const jobs = Object.hasOwn(document, 'Jobs') ? document.Jobs : undefined
  if (jobs === undefined) return []
  if (!isJsonObject(jobs)) throw new ParseError(SOURCE, '"Jobs" is not an object', JSON.stringify(jobs))
  return Object.entries(jobs).map(([jobId, job]) => {
    if (!isJsonObject(job)) throw new ParseError(SOURCE, `job ${jobId} is not an object`, JSON.stringify(job))
    const attributes = new Map<string, string>()
    flatten(jobId, job, '', attributes)
    return buildPbsJobRecord(SOURCE, jobId, Object.fromEntries(attributes), 'pbspro', options)
  })
}

function flatten(
  jobId: string,
  object: { [key: string]: PbsJsonValue },
  prefix: string,
  out: Map<string, string>,
): void {
  for (const [key, value] of Object.entries(object)) {
    const name = prefix === '' ? key : `${prefix}.${key}`
    if (isJsonObject(value)) {
      flatten(jobId, value, name, out)
    } else if (Array.isArray(value)) {
      out.set(name, value.map((item) => scalar(jobId, name, item)).join(','))
    } else if (value !== null) {
      out.set(name, scalar(jobId, name, value))
    }
  }
}

function scalar(jobId: string, name: string, value: PbsJsonValue): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (value === null) return ''
  throw new ParseError(
    SOURCE,
    `job ${jobId}, ${name}: a list of objects where a value was expected`,
    JSON.stringify(value),
  )
}
