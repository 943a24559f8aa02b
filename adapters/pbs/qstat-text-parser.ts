/**
 * `qstat -f [-x] <ids>` text (PBS Pro, OpenPBS, Torque, and the Slurm Torque wrappers) → job records.
 *
 * One block per job: a `Job Id: <id>` line, then `<indent>name = value` lines. Long values wrap onto
 * continuation lines that start with a TAB (PBS Pro and Torque; some captures expanded it to 8 spaces)
 * and split values mid-word, so a continuation is appended without a separator. The attribute indent is
 * the first attribute line's (4 spaces on PBS Pro/Torque, a TAB on the Slurm wrappers): a line with
 * another indent, or one that is not `name = value`, continues the previous value.
 * https://help.altair.com/2024.1.0/PBS%20Professional/PBSReferenceGuide2024.1.pdf (qstat -f)
 */
import { ParseError } from '../../src/core/errors.js'
import { buildPbsJobRecord, type PbsJobRecord, type PbsParseOptions, withPbsContext } from './pbs-job-record.js'

const SOURCE = 'qstat -f'

const JOB_ID_LINE = /^Job Id:\s*(\S+)\s*$/
const INDENTED = /^([ \t]+)(.*)$/
const ATTRIBUTE = /^([A-Za-z_][A-Za-z0-9_.-]*) =(?: (.*))?$/
// one TAB, or the 1–8 spaces a TAB was expanded to
const CONTINUATION_INDENT = /^(?:\t| {1,8})/

/** One `Job Id:` block with its attributes, wrapped values joined. */
export interface QstatTextBlock {
  readonly jobId: string
  /** 1-based line of the `Job Id:` line. */
  readonly lineNumber: number
  readonly attributes: Readonly<Record<string, string>>
}

/**
 * Split `qstat -f` output into job blocks and join wrapped values.
 * A value may also span raw lines (Torque copies sched_hint and comment texts with their newlines):
 * an unindented line inside a block continues the previous value after a newline.
 * @throws ParseError naming the line for text before the first `Job Id:` (e.g. the default table
 *   output or `qstat -Q`), or a line that is not an attribute before the block's first attribute.
 */
export function splitQstatTextBlocks(stdout: string): QstatTextBlock[] {
  const blocks: { jobId: string; lineNumber: number; attributes: Map<string, string> }[] = []
  let current: (typeof blocks)[number] | undefined
  let attributeIndent: string | null = null
  let lastName: string | null = null
  let blankLines = 0
  const append = (text: string) => {
    if (current !== undefined && lastName !== null) {
      current.attributes.set(lastName, `${current.attributes.get(lastName) ?? ''}${text}`)
    }
  }
  const lines = stdout.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? '').replace(/\r$/, '')
    const lineNumber = index + 1
    if (line.trim() === '') {
      blankLines++
      continue
    }
    const jobId = JOB_ID_LINE.exec(line)?.[1]
    if (jobId !== undefined) {
      current = { jobId, lineNumber, attributes: new Map() }
      blocks.push(current)
      attributeIndent = null
      lastName = null
      blankLines = 0
      continue
    }
    if (current === undefined) throw new ParseError(SOURCE, `line ${lineNumber}: expected "Job Id: <id>"`, line)
    const [, indent = '', rest = line] = INDENTED.exec(line) ?? []
    const attribute = indent === '' ? null : ATTRIBUTE.exec(rest)
    if (attribute !== null && (attributeIndent === null || indent === attributeIndent)) {
      attributeIndent = indent
      lastName = attribute[1] ?? ''
      current.attributes.set(lastName, attribute[2] ?? '')
      blankLines = 0
      continue
    }
    if (lastName === null) {
      throw new ParseError(SOURCE, `line ${lineNumber}: not an attribute of job ${current.jobId}`, line)
    }
    // Torque copies multi-line texts (sched_hint, comment) raw: an unindented line, or one after a blank
    // line, is a new line of the value; a TAB-indented one right after it is a wrap of the same line
    if (indent === '' || blankLines > 0)
      append(`${'\n'.repeat(blankLines + 1)}${line.replace(CONTINUATION_INDENT, '')}`)
    else append(line.replace(CONTINUATION_INDENT, ''))
    blankLines = 0
  }
  return blocks.map((block) => ({ ...block, attributes: Object.fromEntries(block.attributes) }))
}

/**
 * Parse `qstat -f` text into one record per job, in the order printed. Times are local wall-clock
 * times of the server (`options`). Which exit-status table applies is inferred per job from the
 * attribute names (`Exit_status`/`stime` → PBS Pro, `exit_status`/`start_time` → Torque).
 * Empty output is zero jobs.
 * @throws ParseError for the structural errors of splitQstatTextBlocks and the value errors of
 *   buildPbsJobRecord (bad id, no job_state, malformed exit status, time or walltime).
 */
export function parseQstatText(stdout: string, options: PbsParseOptions = {}): PbsJobRecord[] {
  return splitQstatTextBlocks(stdout).map((block) => {
    try {
      return buildPbsJobRecord(SOURCE, block.jobId, block.attributes, null, options)
    } catch (error) {
      if (error instanceof ParseError) throw withPbsContext(SOURCE, `line ${block.lineNumber}`, error)
      throw error
    }
  })
}
