/**
 * The remote shell scripts of the PBS adapter, each one SSH round trip for any number of jobs. Pure:
 * builds the script texts and parses their answers.
 *
 * - Submission: every job's rendered script is written to `<jobDir>/job.pbs` through a quoted heredoc
 *   (qsub needs a file: the Slurm Torque wrappers cannot read a script from stdin), then
 *   `qsub -o … -e … [-W depend=…] <file>`. A dependency on a job of the same batch is a shell variable
 *   on the qsub command line; a job whose in-batch upstream was refused is not submitted. The answer
 *   is one `rpo-job <i> <id>` / `rpo-fail <i> <message>` line per job, and each new id is also written
 *   to `<jobDir>/job_id` before it is announced, so a lookup by submission key finds it after a crash.
 *   A sweep submitted as one job array (pbs-array.ts) is one unit: its script and array id go to the
 *   array folder, each instance folder gets its subjob id (`1234[7].srv`) in `job_id`, and the one
 *   answer line stands for every instance.
 * The job folder's own files (job id, exit status, cancel marker) and the scripts that read them are
 * in pbs-job-files.ts.
 */

import { randomBytes } from 'node:crypto'
import { ParseError, RpoError } from '../../src/core/errors.js'
import { MKDIR_FAILED } from '../../src/scheduler/run-batch-script.js'
import type { JobSubmission, SubmitResult } from '../../src/scheduler/scheduler-adapter.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { quoteShellWord } from '../../src/script/shell-quote.js'
import type { PbsArrayUnit } from './pbs-array.js'
import { assertPbsJobId, joinPbsDependTerms, type PbsDependTerm, pbsDependTerm } from './pbs-commands.js'
import { PBS_DEPEND_TYPES, PBS_FLAVORS, type PbsFlavorName } from './pbs-flavors.js'
import { PBS_JOB_FILES, pbsJobDir } from './pbs-job-files.js'
import { pbsArrayParentId, pbsSubjobId } from './pbs-subjobs.js'

export interface QsubBatchJob {
  /** The job; for an array, the job the array is submitted as (array key and folder, shared dependencies). */
  readonly job: JobSubmission
  /** The rendered batch script (its `#PBS -W depend` carries the upstreams whose ids were already known). */
  readonly script: string
  /** Present when the unit is a sweep's instances as one job array. */
  readonly array?: PbsArrayUnit
}

export interface QsubBatchOptions {
  /** Random bytes for the heredoc delimiters (injectable for golden tests). */
  readonly delimiterSeed?: string
  /** Whose dependency types apply to arrays. @default 'pbspro' */
  readonly flavor?: PbsFlavorName
}

/**
 * The bash script that writes and submits `jobs` in order (upstreams before their dependents).
 * Prints `rpo-job <index> <jobid>` or `rpo-fail <index> <message>` per unit, and `rpo-mkdir-failed`
 * (exit 3) when the job folders cannot be created. A dependency on an instance of an in-batch array
 * waits for the whole array (the flavor's array dependency type on `<id>[]`).
 * @throws RpoError('internal') when a job depends on an in-batch job that does not come before it.
 */
export function buildQsubBatchScript(jobs: readonly QsubBatchJob[], options: QsubBatchOptions = {}): string {
  const delimiterSeed = options.delimiterSeed ?? randomBytes(6).toString('hex')
  const flavor = options.flavor ?? 'pbspro'
  // every submission key → the unit that submits it (an array's instances and its own key alike)
  const index = new Map<string, number>()
  jobs.forEach((b, i) => {
    index.set(b.job.submissionKey, i)
    for (const member of b.array?.members ?? []) index.set(member.submissionKey, i)
  })
  jobs.forEach(({ job }, i) => {
    for (const d of job.dependsOn) {
      const at = index.get(d.submissionKey)
      if (d.jobId === null && (at === undefined || at >= i)) {
        throw new RpoError(
          'internal',
          `${job.submissionKey} depends on ${d.submissionKey}, which is not submitted before it in the batch`,
        )
      }
    }
  })
  const dirs = jobs.map(({ job }) => pbsJobDir(job))
  const memberDirs = jobs.map(({ array }) => (array?.members ?? []).map((m) => pbsJobDir(m)))
  const lines = [
    'set -u',
    jobs.map((_, i) => `id_${i}=`).join(' '),
    'rpo_subjobs=()',
    "rpo_id_re='^[0-9]+(\\[[0-9]*\\])?(\\.[A-Za-z0-9._-]+)?$'",
    'rpo_err=$(mktemp 2>/dev/null) || rpo_err=/tmp/rpo-qsub-err.$$',
    `trap 'rm -f -- "$rpo_err"' EXIT`,
    '# one line of text: newlines and tabs become spaces',
    `rpo_one_line() { printf '%s' "$*" | tr '\\n\\t' '  '; }`,
    '# rpo_qsub <index> <job folder> <qsub arguments…>: sets rpo_id to the new id, or empty. For a job',
    '# array, rpo_subjobs holds <array index> <instance folder> pairs: each folder gets its subjob id',
    'rpo_qsub() {',
    '  local i=$1 dir=$2 out line k',
    '  shift 2',
    '  rpo_id=',
    `  rm -f -- "$dir/${PBS_JOB_FILES.jobId}" "$dir/${PBS_JOB_FILES.exitStatus}" "$dir/${PBS_JOB_FILES.cancelMarker}"`,
    `  for ((k = 1; k < \${#rpo_subjobs[@]}; k += 2)); do`,
    `    rm -f -- "\${rpo_subjobs[k]}/${PBS_JOB_FILES.jobId}" "\${rpo_subjobs[k]}/${PBS_JOB_FILES.exitStatus}" "\${rpo_subjobs[k]}/${PBS_JOB_FILES.cancelMarker}"`,
    '  done',
    '  if out=$(qsub "$@" 2>"$rpo_err"); then',
    '    # the id is the last non-blank line (site submit filters may print notices before it)',
    `    while IFS= read -r line; do line=\${line//[[:space:]]/}; [ -z "$line" ] || rpo_id=$line; done <<<"$out"`,
    '    # an array must answer with an array id (1234[].server): its subjob ids are made from it',
    `    if [[ $rpo_id =~ $rpo_id_re ]] && { [ \${#rpo_subjobs[@]} -eq 0 ] || [[ $rpo_id == *"[]"* ]]; }; then`,
    `      printf '%s\\n' "$rpo_id" >"$dir/${PBS_JOB_FILES.jobId}" 2>/dev/null`,
    `      for ((k = 0; k < \${#rpo_subjobs[@]}; k += 2)); do`,
    `        printf '%s\\n' "\${rpo_id%%\\[\\]*}[\${rpo_subjobs[k]}]\${rpo_id#*\\[\\]}" >"\${rpo_subjobs[k+1]}/${PBS_JOB_FILES.jobId}" 2>/dev/null`,
    '      done',
    '      echo "rpo-job $i $rpo_id"',
    '    else',
    '      rpo_id=',
    '      echo "rpo-fail $i unexpected qsub answer: $(rpo_one_line "$out" "$(cat -- "$rpo_err")")"',
    '    fi',
    '  else',
    '    echo "rpo-fail $i $(rpo_one_line "$(cat -- "$rpo_err")" "$out")"',
    '  fi',
    '}',
  ]
  const uniqueDirs = [...new Set([...dirs, ...memberDirs.flat()])]
  if (uniqueDirs.length > 0)
    lines.push(`mkdir -p -- ${uniqueDirs.map(quoteShellWord).join(' ')} || { echo "${MKDIR_FAILED}"; exit 3; }`)
  jobs.forEach(({ job, script, array }, i) => {
    const delimiter = `RPO_SCRIPT_${delimiterSeed}_${i}`
    if (script.includes(delimiter)) throw new Error(`batch script delimiter collision for ${job.submissionKey}`)
    const dir = dirs[i] as string
    const file = quoteShellWord(`${dir}/${PBS_JOB_FILES.script}`)
    const order = ['succeeded', 'finished', 'failed'] as const
    const terms = [...job.dependsOn]
      .sort((a, b) => order.indexOf(a.condition) - order.indexOf(b.condition))
      .map((d): PbsDependTerm => {
        if (d.jobId !== null) return pbsDependTerm(d.jobId, d.condition, flavor)
        const at = index.get(d.submissionKey) as number
        // an upstream in an in-batch array: its variable holds the array's id (1234[].srv)
        const type = jobs[at]?.array ? PBS_FLAVORS[flavor].arrays.dependTypes : PBS_DEPEND_TYPES
        return { type: type[d.condition], id: `\${id_${at}}` }
      })
    const depend = joinPbsDependTerms(terms)
    const argv = [
      '-o',
      quoteShellWord(array?.stdout ?? `${dir}/${PBS_JOB_FILES.stdout}`),
      '-e',
      quoteShellWord(array?.stderr ?? `${dir}/${PBS_JOB_FILES.stderr}`),
      // ids are digits, dots, letters and brackets (checked above or by rpo_id_re): safe in double quotes
      ...(depend !== null ? ['-W', `"depend=${depend}"`] : []),
      file,
    ]
    const subjobs = (array?.members ?? []).map((_, m) => [
      String(array?.indices[m]),
      quoteShellWord(memberDirs[i]?.[m] as string),
    ])
    const submit = [
      `if ! cat >${file} <<'${delimiter}'`,
      script.endsWith('\n') ? script.slice(0, -1) : script,
      delimiter,
      'then',
      // the path as one quoted word: inside "…" a folder named $(…) would run
      `  printf 'rpo-fail ${i} cannot write the job script %s\\n' ${file}`,
      'else',
      ...(subjobs.length > 0 ? [`  rpo_subjobs=(${subjobs.flat().join(' ')})`] : []),
      `  rpo_qsub ${i} ${quoteShellWord(dir)} ${argv.join(' ')}`,
      ...(subjobs.length > 0 ? ['  rpo_subjobs=()'] : []),
      `  id_${i}=$rpo_id`,
      'fi',
    ]
    const inBatch = [
      ...new Set(job.dependsOn.filter((d) => d.jobId === null).map((d) => index.get(d.submissionKey) as number)),
    ]
    // no indentation inside the guard: the heredoc body and its delimiter must stay byte-exact
    if (inBatch.length > 0) {
      lines.push(
        `if ${inBatch.map((k) => `[ -n "\${id_${k}}" ]`).join(' && ')}; then`,
        ...submit,
        'else',
        `  echo "rpo-fail ${i} an upstream job of this batch was refused"`,
        'fi',
      )
    } else {
      lines.push(...submit)
    }
  })
  return `${lines.join('\n')}\n`
}

/**
 * Read the batch script's answer. Jobs without a line are left out: their outcome is unknown (the
 * caller finds them by submission key). The wrappers' qsub wraps sbatch's refusal in a long text:
 * the message keeps the scheduler's own words. An array's one line answers for each instance:
 * `<seq>[<index>]<.server>` each, or the same refusal for all.
 * @throws ParseError for an answer about an index that was not in the batch.
 */
export function parseQsubBatchOutput(stdout: string, jobs: readonly QsubBatchJob[]): SubmitResult[] {
  const results: SubmitResult[] = []
  for (const line of stdout.split('\n')) {
    const match = /^rpo-(job|fail) (\d+) ?(.*)$/.exec(line.trim())
    if (!match) continue
    const unit = jobs[Number(match[2])]
    if (!unit) throw new ParseError('qsub batch', 'answer for a job index that was not in the batch', line)
    const job = unit.job
    if (unit.array) {
      results.push(...arrayResults(unit.array, match[1] === 'job', match[3] ?? ''))
      continue
    }
    if (match[1] === 'job') {
      results.push({ kind: 'submitted', submissionKey: job.submissionKey, jobId: assertPbsJobId(match[3] ?? '') })
    } else {
      results.push({ kind: 'rejected', submissionKey: job.submissionKey, message: cleanQsubMessage(match[3] ?? '') })
    }
  }
  return results
}

function arrayResults(array: PbsArrayUnit, submitted: boolean, said: string): SubmitResult[] {
  const id = submitted ? assertPbsJobId(said) : null
  // the script only announces array ids; anything else is a refusal, never a guessed subjob id
  const arrayId = id !== null && pbsArrayParentId(id) === id ? id : null
  const message =
    arrayId === null && submitted ? `qsub did not answer with a job array id: ${said}` : cleanQsubMessage(said)
  return array.members.map((member, m) =>
    arrayId === null
      ? { kind: 'rejected', submissionKey: member.submissionKey, message }
      : {
          kind: 'submitted',
          submissionKey: member.submissionKey,
          jobId: asNativeJobId(pbsSubjobId(arrayId, array.indices[m] as number)),
        },
  )
}

/**
 * qsub's refusal in the scheduler's own words: the Slurm wrappers print "There was an error running
 * the Slurm sbatch command. The command was: '…' and the output was: '<sbatch's words>'".
 */
export function cleanQsubMessage(message: string): string {
  let text = message.trim()
  const wrapped = /and the output was:\s*'([\s\S]*?)'?\s*$/.exec(text)
  if (wrapped?.[1] !== undefined) text = wrapped[1].trim()
  text = text.replace(/^(?:qsub|sbatch):\s*(?:error:\s*)?/i, '').trim()
  return text === '' ? 'qsub refused the job without saying why' : text.slice(0, 1000)
}
