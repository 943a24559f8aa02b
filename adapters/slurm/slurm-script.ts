/**
 * Render the batch script for one job submission from the logic-less template
 * `templates/slurm/job.sbatch.tmpl`. Names are validated (`isSafeName`), every value passes through
 * `quoteShellWord`, and the template only substitutes: `{{name}}` is shell-quoted on the way in,
 * `{{{name}}}` is a block built and quoted here, `{{! … }}` is a comment.
 */

import { checkpointLibExports } from '../../src/scheduler/checkpoint-helper.js'
import type { DependencyCondition, JobSubmission } from '../../src/scheduler/scheduler-adapter.js'
import { type LaunchPlan, launchRequestOf, planLaunch } from '../../src/script/launch/launch-plan.js'
import { renderScriptTemplate } from '../../src/script/render-template.js'
import { scriptValueChecks } from '../../src/script/script-values.js'
import { quoteShellWord } from '../../src/script/shell-quote.js'
import { assertSlurmJobId } from './slurm-commands.js'
import { formatSlurmTimeLimit } from './slurm-time.js'

const { invalid, safeName, noNul, positive, positiveInteger, nonNegativeInteger } = scriptValueChecks('Slurm script')

/** Where the template lives, relative to the package root (the adapter reads it; rendering is pure). */
export const SLURM_JOB_TEMPLATE_FILE = 'templates/slurm/job.sbatch.tmpl'

/** Cluster-level choices that are not part of the job itself. */
export interface SlurmScriptOptions {
  /** Used when the job names no partition. */
  readonly partition?: string
  /** Used when the job has no project (`job.project` is the account otherwise). */
  readonly account?: string
  /** Used when the job names no QOS. */
  readonly qos?: string
  /** Ask Slurm to signal the batch shell `leadSeconds` before the time limit (checkpoint warning). */
  readonly signal?: { readonly name: string; readonly leadSeconds: number }
  /** `--requeue` / `--no-requeue`; absent leaves the cluster default (JobRequeue). */
  readonly requeue?: boolean
  /** `--array` index spec, e.g. `0-9%2`. */
  readonly array?: string
  /** `--nice` adjustment; positive lowers the priority. */
  readonly nice?: number
  /** The MPI plugin of `srun --mpi=` for mpi and horovod tasks (`srun --mpi=list`). @default pmix */
  readonly mpi?: string
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const DEPENDENCY_TYPES: Record<DependencyCondition, string> = {
  succeeded: 'afterok',
  finished: 'afterany',
  failed: 'afternotok',
}

/**
 * The batch script text for `job`: `#SBATCH` directives, `export` lines for `job.env`, the software
 * environment (`job.environment`), then the command (run by `bash -c` as one quoted word, so it
 * executes exactly as written) — through its framework's launcher (`job.framework`, docs/launching.md).
 *
 * Resource mapping: `--cpus-per-task` = cpus and `--mem` = memoryMb (both per node); GPUs per node
 * as `--gres=gpu[:type]:n` for zero or one acceptable type, or `--gpus`/`--gpus-per-node` plus
 * `--constraint=a|b` for several (this relies on nodes carrying their GPU type as a feature);
 * more than one node adds `--nodes` and `--ntasks-per-node=1`; a launcher sets `--ntasks-per-node` to
 * its tasks per node (MPI, Horovod: one rank per GPU…) and splits the node's CPUs among them. Dependencies map succeeded →
 * afterok, finished → afterany, failed → afternotok, with `--kill-on-invalid-dep=yes` so a job whose
 * upstream can never satisfy it is cancelled instead of pending forever.
 * @throws RpoError('spec-invalid') for an unsafe job name, partition, account, QOS or GPU type, a bad
 *   env name, a NUL byte, a path with a newline, `%` or backslash, or non-positive resources.
 */
export function renderSlurmScript(template: string, job: JobSubmission, options: SlurmScriptOptions = {}): string {
  return renderScriptTemplate('Slurm template', template, {
    submission_key: safeName('job name (submission key)', job.submissionKey),
    sbatch_directives: buildSbatchDirectives(job, options)
      .map((directive) => `#SBATCH ${directive}`)
      .join('\n'),
    env_exports: buildEnvExports(job.env).join('\n'),
    checkpoint_setup: buildCheckpointSetup(job).join('\n'),
    launch: slurmLaunchPlan(job, options).lines.join('\n'),
  })
}

/**
 * The environment set-up and the launch of `job.command` (src/script/launch/launch-plan.ts): the
 * batch shell forwards the checkpoint signal to a launcher, because `--signal=B:` reaches only it.
 */
export function slurmLaunchPlan(job: JobSubmission, options: SlurmScriptOptions = {}): LaunchPlan {
  const signal = job.checkpoint?.signal ?? options.signal?.name ?? null
  return planLaunch(
    {
      ...launchRequestOf(job, 'slurm', signal),
      ...(options.mpi === undefined ? {} : { slurmMpi: options.mpi }),
    },
    { invalid, safeName, noNul, positive, positiveInteger, nonNegativeInteger },
  )
}

/** The `#SBATCH` options for `job`, each one already quoted (without the `#SBATCH ` prefix). */
export function buildSbatchDirectives(job: JobSubmission, options: SlurmScriptOptions = {}): string[] {
  const { resources } = job
  const directives: string[] = [option('job-name', safeName('job name (submission key)', job.submissionKey))]
  const partition = job.partition ?? options.partition
  if (partition !== undefined) directives.push(option('partition', safeName('partition', partition)))
  const account = job.project ?? options.account
  if (account != null) directives.push(option('account', safeName('account (project)', account)))
  const qos = job.qos ?? options.qos
  if (qos !== undefined) directives.push(option('qos', safeName('qos', qos)))
  directives.push(option('time', formatSlurmTimeLimit(positive('timeLimitSeconds', resources.timeLimitSeconds))))
  const nodes = positiveInteger('nodes', resources.nodes)
  // a launcher says how many tasks each node runs (one torchrun per node, one MPI rank per GPU…)
  // and so how the node's CPUs are split; a plain command is one task with all of them
  const launch = slurmLaunchPlan(job, options)
  const tasksPerNode = launch.tasksPerNode ?? (nodes > 1 ? 1 : null)
  if (nodes > 1) directives.push(option('nodes', String(nodes)))
  if (tasksPerNode !== null) directives.push(option('ntasks-per-node', String(tasksPerNode)))
  directives.push(option('cpus-per-task', String(launch.cpusPerTask)))
  directives.push(option('mem', `${Math.ceil(positive('memoryMb', resources.memoryMb))}M`))
  directives.push(...gpuDirectives(job, nodes))
  directives.push(...dependencyDirectives(job))
  // a checkpointing job is requeueable (Slurm restarts it in place after a node failure) and is
  // warned before its time limit; cluster-wide settings apply to the others
  const requeue = job.checkpoint ? true : options.requeue
  if (requeue !== undefined) directives.push(requeue ? '--requeue' : '--no-requeue')
  const signal = job.checkpoint
    ? { name: job.checkpoint.signal, leadSeconds: job.checkpoint.leadSeconds }
    : options.signal
  if (signal !== undefined) directives.push(option('signal', signalSpec(signal)))
  if (job.excludeNodes && job.excludeNodes.length > 0) {
    directives.push(option('exclude', job.excludeNodes.map((node) => safeName('excluded node', node)).join(',')))
  }
  if (job.hold) directives.push('--hold')
  if (options.nice !== undefined) {
    if (!Number.isInteger(options.nice)) throw invalid(`nice must be an integer, got ${options.nice}`)
    directives.push(option('nice', String(options.nice)))
  }
  if (options.array !== undefined) {
    if (!/^[0-9][0-9,:%-]*$/.test(options.array))
      throw invalid(`not a Slurm array spec: ${JSON.stringify(options.array)}`)
    directives.push(option('array', options.array))
  }
  directives.push(option('chdir', safePath('workDir', job.workDir)))
  // %j is sbatch's filename pattern for the job id; append so a requeued run keeps the earlier log
  const jobDir = safePath('jobDir', job.jobDir).replace(/\/+$/, '')
  directives.push(option('output', `${jobDir}/slurm-%j.out`), option('error', `${jobDir}/slurm-%j.err`))
  directives.push(option('open-mode', 'append'))
  return directives
}

function gpuDirectives(job: JobSubmission, nodes: number): string[] {
  const gpus = job.resources.gpus
  if (gpus === null || gpus.count === 0) return []
  const count = positiveInteger('gpus.count', gpus.count)
  const types = [...new Set(gpus.types)].map((type) => safeName('GPU type', type))
  const [onlyType] = types
  if (types.length <= 1) return [option('gres', onlyType === undefined ? `gpu:${count}` : `gpu:${onlyType}:${count}`)]
  // https://slurm.schedmd.com/sbatch.html#OPT_constraint — "[a|b]" makes every node pick the same feature
  const alternatives = types.join('|')
  return nodes > 1
    ? [option('gpus-per-node', String(count)), option('constraint', `[${alternatives}]`)]
    : [option('gpus', String(count)), option('constraint', alternatives)]
}

// upstreams submitted in the same batch have no id yet: the batch submitter wires those on the
// sbatch command line (see sbatch-batch.ts), where a shell variable can carry the fresh id
function dependencyDirectives(job: JobSubmission): string[] {
  const known = job.dependsOn.filter((d) => d.jobId !== null)
  if (known.length === 0) return []
  const groups: string[] = []
  for (const condition of ['succeeded', 'finished', 'failed'] as const) {
    const ids = known
      .filter((dependency) => dependency.condition === condition)
      .map((d) => assertSlurmJobId(d.jobId as string))
    if (ids.length > 0) groups.push([DEPENDENCY_TYPES[condition], ...new Set(ids)].join(':'))
  }
  // https://slurm.schedmd.com/sbatch.html#OPT_dependency — ',' means all conditions must hold
  return [option('dependency', groups.join(',')), option('kill-on-invalid-dep', 'yes')]
}

function signalSpec(signal: { readonly name: string; readonly leadSeconds: number }): string {
  const name = signal.name.replace(/^SIG/, '')
  if (!/^[A-Z0-9]{1,8}$/.test(name)) throw invalid(`not a signal name: ${JSON.stringify(signal.name)}`)
  // https://slurm.schedmd.com/sbatch.html#OPT_signal — sig_time is 0..65535 seconds; B: = the batch shell only
  if (!Number.isInteger(signal.leadSeconds) || signal.leadSeconds < 0 || signal.leadSeconds > 65_535) {
    throw invalid(`signal lead time must be 0..65535 seconds, got ${signal.leadSeconds}`)
  }
  return `B:${name}@${signal.leadSeconds}`
}

/**
 * For a checkpointing job: make the helper importable, and stop a job that Slurm restarted in
 * place (node failure, preemption) more often than the task allows, so a job that dies right after
 * every restart cannot loop.
 */
export function buildCheckpointSetup(job: JobSubmission): string[] {
  if (!job.checkpoint) return []
  const limit = job.checkpoint.maxRestarts
  if (!Number.isInteger(limit) || limit < 0) throw invalid(`maxRestarts must be a non-negative integer, got ${limit}`)
  return [
    ...checkpointLibExports(job),
    `if [ "\${SLURM_RESTART_COUNT:-0}" -gt ${limit} ]; then`,
    `  echo "rpo: restarted \${SLURM_RESTART_COUNT} times by Slurm, more than the ${limit} restarts left by the task's checkpoint.maxResumes; not running again" >&2`,
    '  exit 3',
    'fi',
  ]
}

/** `export NAME=value` lines, one per variable, in the order given; values are quoted. */
export function buildEnvExports(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw invalid(`not an environment variable name: ${JSON.stringify(name)}`)
    return `export ${name}=${quoteShellWord(noNul(`env ${name}`, value))}`
  })
}

function option(name: string, value: string): string {
  return quoteShellWord(`--${name}=${value}`)
}

// sbatch reads #SBATCH lines with its own parser: a backslash escapes even inside single quotes
// (src/sbatch/opt.c _get_argument) and '%' starts a filename pattern, so neither can be quoted safely
function safePath(what: string, value: string): string {
  noNul(what, value)
  if (value === '' || /[\n\r\\%]/.test(value)) {
    throw invalid(`${what} must be a non-empty path without newlines, '\\' or '%', got ${JSON.stringify(value)}`)
  }
  return value
}
