/**
 * Many sbatch calls in one remote shell script, so a batch of jobs costs one SSH round trip. Jobs
 * that depend on jobs of the same batch get the fresh ids through shell variables on the sbatch
 * command line; a job whose in-batch upstream was refused is not submitted. Pure: builds the script
 * and parses its answer.
 */

import { randomBytes } from 'node:crypto'
import { ParseError, RpoError } from '../../src/core/errors.js'
import { MKDIR_FAILED } from '../../src/scheduler/run-batch-script.js'
import type { DependencyCondition, JobSubmission, SubmitResult } from '../../src/scheduler/scheduler-adapter.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { quoteShellWord } from '../../src/script/shell-quote.js'
import type { BatchUnit } from './slurm-array.js'
import { assertSlurmJobId } from './slurm-commands.js'

const DEPENDENCY_TYPES: Record<DependencyCondition, string> = {
  succeeded: 'afterok',
  finished: 'afterany',
  failed: 'afternotok',
}

/** A unit of the batch: one job, or a sweep's instances as one array job (see slurm-array.ts). */
export type BatchJob = BatchUnit

/**
 * The bash script that submits `jobs` in order. Prints one line per job:
 * `rpo-job <index> <jobid>` or `rpo-fail <index> <message>`.
 * @param delimiterSeed random bytes for the heredoc delimiters (injectable for golden tests)
 */
export function buildBatchSubmitScript(
  jobs: readonly BatchJob[],
  delimiterSeed: string = randomBytes(6).toString('hex'),
): string {
  // every submission key → the unit that submits it, and its array index when it is an instance
  const index = new Map<string, { unit: number; arrayIndex: number | null }>()
  jobs.forEach((unit, i) => {
    for (const member of unit.members ?? [unit.job]) {
      index.set(member.submissionKey, { unit: i, arrayIndex: unit.members ? (member.array?.index ?? null) : null })
    }
  })
  const idOf = (key: string) => {
    const at = index.get(key) as { unit: number; arrayIndex: number | null }
    return at.arrayIndex === null ? `\${id_${at.unit}}` : `\${id_${at.unit}}_${at.arrayIndex}`
  }
  jobs.forEach(({ job }, i) => {
    for (const d of job.dependsOn) {
      const at = index.get(d.submissionKey)
      if (d.jobId === null && (at === undefined || at.unit >= i)) {
        throw new RpoError(
          'internal',
          `${job.submissionKey} depends on ${d.submissionKey}, which is not submitted before it in the batch`,
        )
      }
    }
  })
  const dirs = [...new Set(jobs.flatMap((b) => (b.members ?? [b.job]).map((m) => m.jobDir)))]
  const lines = ['set -u', 'export SLURM_TIME_FORMAT=standard', jobs.map((_, i) => `id_${i}=`).join(' ')]
  if (dirs.length > 0)
    lines.push(`mkdir -p -- ${dirs.map(quoteShellWord).join(' ')} || { echo "${MKDIR_FAILED}"; exit 3; }`)
  lines.push(...answerHelpers(dirs[0]))
  jobs.forEach(({ job, script }, i) => {
    const delimiter = `RPO_SCRIPT_${delimiterSeed}_${i}`
    if (script.includes(delimiter)) throw new Error(`batch script delimiter collision for ${job.submissionKey}`)
    const inBatch = job.dependsOn.filter((d) => d.jobId === null)
    const groups: string[] = []
    for (const condition of ['succeeded', 'finished', 'failed'] as const) {
      const ids = job.dependsOn
        .filter((d) => d.condition === condition)
        .map((d) => (d.jobId === null ? idOf(d.submissionKey) : assertSlurmJobId(d.jobId)))
      if (ids.length > 0) groups.push([DEPENDENCY_TYPES[condition], ...ids].join(':'))
    }
    const flags = groups.length > 0 ? ` "--dependency=${groups.join(',')}" --kill-on-invalid-dep=yes` : ''
    const guard = inBatch.map((d) => `[ -n "\${id_${index.get(d.submissionKey)?.unit}}" ]`).join(' && ')
    const answer = members(jobs[i] as BatchUnit) ? 'rpo-array' : 'rpo-job'
    // sbatch's answer goes to a file, not through $(…): a command substitution around a command with
    // a here-document costs two forks instead of one, which was a third of a large batch's time
    const submit = [
      `if sbatch --parsable${flags} >"$rpo_answer" 2>&1 <<'${delimiter}'`,
      script.endsWith('\n') ? script.slice(0, -1) : script,
      delimiter,
      `then rpo_submitted ${i} ${answer}; else rpo_refused ${i}; fi`,
    ]
    // no indentation inside the guard: the heredoc body and its delimiter must stay byte-exact
    if (guard) {
      lines.push(
        `if ${guard}; then`,
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
 * Shell functions the batch calls after each sbatch, all builtins (no fork per job): sbatch's
 * answer is read back from one scratch file, the id taken from its last line (a warning on stderr
 * comes before it), kept in `id_<i>` for the dependents and printed as the script's answer line.
 */
function answerHelpers(firstJobDir: string | undefined): string[] {
  // the scratch file is local (mktemp); the first job folder, just created, is the fallback
  const fallback =
    firstJobDir === undefined ? '' : ` || rpo_answer=${quoteShellWord(`${firstJobDir}/.rpo-sbatch-answer`)}`
  return [
    `rpo_answer=$(mktemp "\${TMPDIR:-/tmp}/rpo-sbatch.XXXXXX" 2>/dev/null)${fallback}`,
    `trap 'rm -f -- "$rpo_answer"' EXIT`,
    `rpo_read() { rpo_lines=(); mapfile -t rpo_lines <"$rpo_answer"; rpo_text="\${rpo_lines[*]-}"; }`,
    'rpo_submitted() {',
    '  rpo_read',
    '  local id=',
    `  [ "\${#rpo_lines[@]}" -gt 0 ] && id=\${rpo_lines[\${#rpo_lines[@]}-1]%%;*}`,
    `  case "$id" in ''|*[!0-9_]*) echo "rpo-fail $1 unexpected sbatch answer: $rpo_text"; return 0 ;; esac`,
    '  printf -v "id_$1" %s "$id"',
    '  echo "$2 $1 $id"',
    '}',
    'rpo_refused() { rpo_read; echo "rpo-fail $1 $rpo_text"; }',
  ]
}

function members(unit: BatchUnit): readonly JobSubmission[] | null {
  return unit.members && unit.members.length > 0 ? unit.members : null
}

/** Read the batch script's answer. Jobs without a line are left out: their outcome is unknown. */
export function parseBatchSubmitOutput(stdout: string, jobs: readonly BatchJob[]): SubmitResult[] {
  const results: SubmitResult[] = []
  for (const line of stdout.split('\n')) {
    const match = /^rpo-(job|array|fail) (\d+) ?(.*)$/.exec(line.trim())
    if (!match) continue
    const unit = jobs[Number(match[2])]
    if (!unit) throw new ParseError('sbatch batch', 'answer for a job index that was not in the batch', line)
    const job = unit.job
    const instances = members(unit)
    if (instances) {
      // an array answers once for all its instances: <array id>_<index> each, or one refusal for all
      const message = (match[3] ?? '').replace(/^sbatch: error: /, '').trim()
      const arrayId = match[1] === 'fail' ? '' : assertSlurmJobId(match[3] ?? '')
      for (const m of instances) {
        results.push(
          match[1] === 'fail'
            ? { kind: 'rejected', submissionKey: m.submissionKey, message }
            : {
                kind: 'submitted',
                submissionKey: m.submissionKey,
                jobId: asNativeJobId(`${arrayId}_${m.array?.index}`),
              },
        )
      }
      continue
    }
    if (match[1] === 'job') {
      results.push({
        kind: 'submitted',
        submissionKey: job.submissionKey,
        jobId: asNativeJobId(assertSlurmJobId(match[3] ?? '')),
      })
    } else {
      results.push({
        kind: 'rejected',
        submissionKey: job.submissionKey,
        message: (match[3] ?? '').replace(/^sbatch: error: /, '').trim(),
      })
    }
  }
  return results
}
