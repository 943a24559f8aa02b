/**
 * Sweeps as Slurm job arrays: the instances of one task submitted in the same batch, with the same
 * resources and dependencies, become one `sbatch --array=<indices>%<throttle>` job whose script
 * picks its command and environment by SLURM_ARRAY_TASK_ID. Each instance keeps its own job folder
 * (`--output` with `%a`) and is observed as `<array id>_<index>`. Pure.
 */
import type { JobSubmission } from '../../src/scheduler/scheduler-adapter.js'
import { quoteShellWord } from '../../src/script/shell-quote.js'
import {
  buildCheckpointSetup,
  buildEnvExports,
  buildSbatchDirectives,
  type SlurmScriptOptions,
} from './slurm-script.js'

/** A unit of a submission batch: one job, or the instances of a sweep submitted as one array. */
export interface BatchUnit {
  readonly job: JobSubmission
  readonly script: string
  /** Present for an array: every instance, `job` being the first. */
  readonly members?: readonly JobSubmission[]
}

/** What must be equal for instances to share one array job. */
function arrayShape(job: JobSubmission): string {
  return JSON.stringify([
    job.array?.key,
    job.resources,
    job.dependsOn,
    job.project,
    job.partition ?? null,
    job.qos ?? null,
    job.checkpoint ?? null,
    job.excludeNodes ?? null,
    job.hold ?? false,
  ])
}

/**
 * Group a batch into units, keeping the batch order (an array sits where its first instance was).
 * Instances with `array` set and the same shape are combined when there are at least two.
 */
export function groupIntoUnits(
  jobs: readonly JobSubmission[],
  render: (job: JobSubmission) => string,
  renderArray: (members: readonly JobSubmission[]) => string,
): BatchUnit[] {
  const byShape = new Map<string, JobSubmission[]>()
  for (const job of jobs) {
    if (!job.array) continue
    const shape = arrayShape(job)
    const alike = byShape.get(shape)
    if (alike) alike.push(job)
    else byShape.set(shape, [job])
  }
  const units: BatchUnit[] = []
  const placed = new Set<string>()
  for (const job of jobs) {
    if (placed.has(job.submissionKey)) continue
    const members = job.array ? (byShape.get(arrayShape(job)) ?? []) : []
    if (members.length >= 2) {
      for (const m of members) placed.add(m.submissionKey)
      units.push({ job, script: renderArray(members), members })
    } else {
      placed.add(job.submissionKey)
      units.push({ job, script: render(job) })
    }
  }
  return units
}

/** The array job's script: shared directives, then one `case` branch per instance. */
export function renderSlurmArrayScript(members: readonly JobSubmission[], options: SlurmScriptOptions = {}): string {
  const first = members[0] as JobSubmission
  const array = first.array as NonNullable<JobSubmission['array']>
  const indices = members.map((m) => (m.array as NonNullable<JobSubmission['array']>).index)
  // the instance folders differ only in the index: <jobsRoot>/rpo.<run>.<task>.<index>.<attempt>
  const outputDir = first.jobDir.replace(new RegExp(`\\.${array.index}\\.${first.attempt}$`), `.%a.${first.attempt}`)
  const directives = buildSbatchDirectives({ ...first, submissionKey: array.key }, options)
    .filter((d) => !/^'?--(output|error)=/.test(d))
    .map((d) => `#SBATCH ${d}`)
  directives.push(
    `#SBATCH ${quoteShellWord(`--array=${indices.join(',')}${array.throttle ? `%${array.throttle}` : ''}`)}`,
    `#SBATCH ${quoteShellWord(`--output=${outputDir}/slurm-%A_%a.out`)}`,
    `#SBATCH ${quoteShellWord(`--error=${outputDir}/slurm-%A_%a.err`)}`,
  )
  const branches = members.flatMap((m) => [
    `${(m.array as NonNullable<JobSubmission['array']>).index})`,
    ...buildEnvExports(m.env).map((line) => `  ${line}`),
    ...buildCheckpointSetup(m).map((line) => `  ${line}`),
    '  [ -n "${RPO_OUTPUT_DIR:-}" ] && mkdir -p -- "$RPO_OUTPUT_DIR"',
    `  exec /bin/bash -c ${quoteShellWord(m.command)}`,
    '  ;;',
  ])
  return [
    '#!/bin/bash',
    ...directives,
    '',
    `# rpo sweep ${array.key}: one branch per instance`,
    'case "${SLURM_ARRAY_TASK_ID:-}" in',
    ...branches,
    '*)',
    '  echo "rpo: no instance for array index ${SLURM_ARRAY_TASK_ID:-unset}" >&2',
    '  exit 3',
    '  ;;',
    'esac',
    '',
  ].join('\n')
}
