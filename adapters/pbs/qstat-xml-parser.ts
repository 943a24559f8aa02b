/**
 * Torque `qstat -x <ids>` (`qstat -f -x`) XML → job records. `qstat -x` means XML on Torque (since
 * 1.1.0p2), not job history as on PBS Pro: `<Data><Job><Job_Id>…</Job_Id><job_state>…</job_state>
 * <resources_used><walltime>…</walltime></resources_used>…</Job>…</Data>`, one line, times as epoch seconds.
 * https://docs.adaptivecomputing.com/torque/6-1-2/adminGuide/Content/topics/torque/commands/qstat.htm
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { ParseError } from '../../src/core/errors.js'
import { buildPbsJobRecord, type PbsJobRecord, type PbsParseOptions } from './pbs-job-record.js'

const SOURCE = 'qstat -x'

/** One repeated element (`Job`, `Node`) of a Torque XML document, flattened to dotted names. */
export interface TorqueXmlElement {
  readonly index: number
  readonly fields: Readonly<Record<string, string>>
}

// a bare '&' that starts no entity: older Torque copies values (Variable_List, sched_hint) unescaped
const BARE_AMPERSAND = /&(?!(?:amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9A-Fa-f]{1,6});)/g

/**
 * Read a Torque XML document (`<Data>` with repeated `element` children) into flattened elements.
 * Values stay strings (ids like `00123` keep their zeros); nested elements become dotted names
 * (`resources_used.walltime`, `Walltime.Remaining`). Empty output or an empty `<Data/>` is no elements
 * (Torque before 6.1.0 printed nothing at all when there were no jobs, TRQ-3622).
 * @throws ParseError with line and column for malformed XML, a DOCTYPE, another root than `Data`,
 *   or a child element that is repeated inside one element.
 */
export function readTorqueXml(stdout: string, source: string, element: 'Job' | 'Node'): TorqueXmlElement[] {
  if (stdout.trim() === '') return []
  // qstat never prints a DOCTYPE; refusing it also refuses entity-expansion tricks
  if (/<!DOCTYPE/i.test(stdout)) throw new ParseError(source, 'unexpected DOCTYPE in Torque XML', stdout)
  const xml = stdout.replace(BARE_AMPERSAND, '&amp;')
  const valid = guarded(source, xml, () => XMLValidator.validate(xml))
  if (valid !== true) {
    const { msg, line, col } = valid.err
    const at = line === undefined ? '' : ` at line ${line}${col === undefined ? '' : `, column ${col}`}`
    throw new ParseError(source, `malformed XML${at}: ${msg}`, excerptAt(xml, line, col))
  }
  const parser = new XMLParser({
    isArray: (name) => name === element,
    parseTagValue: false,
    ignoreAttributes: true,
    ignoreDeclaration: true,
    processEntities: true,
    htmlEntities: false,
  })
  const document: unknown = guarded(source, xml, () => parser.parse(xml))
  if (!isRecord(document) || Object.keys(document).length !== 1 || !Object.hasOwn(document, 'Data')) {
    throw new ParseError(source, 'the root element is not <Data>', stdout)
  }
  const data = document.Data
  if (data === '') return []
  if (!isRecord(data)) throw new ParseError(source, '<Data> has text instead of elements', stdout)
  const children = Object.keys(data)
  const other = children.find((name) => name !== element)
  if (other !== undefined) throw new ParseError(source, `unexpected <${other}> in <Data>`, stdout)
  const items = Object.hasOwn(data, element) ? data[element] : []
  if (!Array.isArray(items)) throw new ParseError(source, `<${element}> is not a list`, stdout)
  return items.map((item, index) => {
    const fields = new Map<string, string>()
    if (isRecord(item)) flatten(source, element, index, item, '', fields)
    else if (item !== '')
      throw new ParseError(source, `<${element}> ${index + 1} has text instead of elements`, String(item))
    return { index, fields: Object.fromEntries(fields) }
  })
}

/**
 * Parse Torque `qstat -x` XML into one record per `<Job>`, in the order printed.
 * @throws ParseError for malformed XML (readTorqueXml) and for a job without `Job_Id` or `job_state`,
 *   or with a malformed exit status, time or walltime.
 */
export function parseQstatXml(stdout: string, options: PbsParseOptions = {}): PbsJobRecord[] {
  return readTorqueXml(stdout, SOURCE, 'Job').map(({ index, fields }) => {
    const jobId = fields.Job_Id
    if (jobId === undefined || jobId.trim() === '') {
      throw new ParseError(SOURCE, `<Job> ${index + 1} has no <Job_Id>`, JSON.stringify(fields).slice(0, 300))
    }
    return buildPbsJobRecord(SOURCE, jobId.trim(), fields, 'torque', options)
  })
}

function flatten(
  source: string,
  element: string,
  index: number,
  value: Record<string, unknown>,
  prefix: string,
  out: Map<string, string>,
): void {
  for (const [name, child] of Object.entries(value)) {
    const path = prefix === '' ? name : `${prefix}.${name}`
    if (typeof child === 'string') out.set(path, child)
    else if (isRecord(child)) flatten(source, element, index, child, path, out)
    else
      throw new ParseError(
        source,
        `<${element}> ${index + 1}: <${path}> is repeated`,
        JSON.stringify(child).slice(0, 300),
      )
  }
}

// fast-xml-parser throws plain Errors on some inputs its validator let through: keep them ParseErrors
function guarded<T>(source: string, xml: string, run: () => T): T {
  try {
    return run()
  } catch (error) {
    if (error instanceof ParseError) throw error
    throw new ParseError(
      source,
      `malformed XML: ${error instanceof Error ? error.message : String(error)}`,
      xml.slice(0, 200),
    )
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function excerptAt(xml: string, line: number | undefined, column: number | undefined): string {
  if (line === undefined) return xml.slice(0, 200)
  const text = xml.split('\n')[line - 1] ?? ''
  const at = Math.max(0, (column ?? 1) - 1)
  return text.slice(Math.max(0, at - 80), at + 80)
}
