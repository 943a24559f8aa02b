/**
 * Render the batch script for one job submission from the logic-less template
 * `templates/pbs/job.pbs.tmpl`, for any PBS flavor (the flavor table decides the resource syntax and
 * the job-name limit). Names are validated (`isSafeName`), every value passes through
 * `quoteShellWord`, and the template only substitutes: `{{name}}` is shell-quoted on the way in,
 * `{{{name}}}` is a block built and quoted here, `{{! … }}` is a comment.
 */
import { checkpointLibExports } from '../../src/scheduler/checkpoint-helper.js'
import type { JobSubmission } from '../../src/scheduler/scheduler-adapter.js'
import { type LaunchPlan, launchRequestOf, planLaunch } from '../../src/script/launch/launch-plan.js'
import { renderScriptTemplate } from '../../src/script/render-template.js'
import { scriptValueChecks } from '../../src/script/script-values.js'
import { quoteShellWord } from '../../src/script/shell-quote.js'
import { buildPbsDependSpec } from './pbs-commands.js'
import {
  choosePbsJobName,
  PBS_FLAVORS,
  PBS_SUBMISSION_KEY_VARIABLE,
  type PbsArraySpec,
  type PbsFlavorName,
} from './pbs-flavors.js'
import { formatPbsWalltime } from './pbs-units.js'

const { invalid, safeName, noNul, positive, positiveInteger, nonNegativeInteger } = scriptValueChecks('PBS script')

/** Where the template lives, relative to the package root (the adapter reads it; rendering is pure). */
export const PBS_JOB_TEMPLATE_FILE = 'templates/pbs/job.pbs.tmpl'

/** Cluster-level choices that are not part of the job itself. */
export interface PbsScriptOptions {
  readonly flavor: PbsFlavorName
  /** Used when the job names no partition (`-q`). */
  readonly queue?: string
  /** Used when the job has no project (`-A`). */
  readonly account?: string
  /** The GPU count resource of a PBS Pro select chunk. @default 'ngpus' */
  readonly gpuResource?: 'ngpus' | 'gpus'
  /** Custom resource carrying the GPU type (`:gputype=a100`); required to ask for a GPU type. */
  readonly gpuTypeResource?: string
  /**
   * Send `name` to the command `leadSeconds` before the walltime ends (checkpoint warning). PBS has no
   * option for this (unlike sbatch --signal), so the script arms a timer before it execs the command.
   */
  readonly signal?: { readonly name: string; readonly leadSeconds: number }
  /** `-r y` / `-r n`; absent leaves the server default. */
  readonly rerunnable?: boolean
  /** `-p`, the priority within the queue: -1024 … 1023. */
  readonly priority?: number
  /** `-J` (PBS Pro) / `-t` (Torque). */
  readonly array?: PbsArraySpec
  /**
   * `-o`/`-e` paths instead of `<jobDir>/pbs.out|err`: a job array's, which may hold the flavor's
   * index token (`^array_index^`). Absolute plain paths only.
   */
  readonly streams?: { readonly stdout: string; readonly stderr: string }
  /** Overrides the flavor's job-name limit (e.g. a Torque server known to take long names). */
  readonly maxJobNameLength?: number
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
// #PBS lines are tokenized by qsub, not by a shell: only plain words are safe there, so paths in
// directives are restricted to characters that need no quoting; ':' would read as host:path
const DIRECTIVE_PATH = /^\/[A-Za-z0-9._/+@=,-]*$/

/**
 * The batch script text for `job`: `#PBS` directives, `export` lines for `job.env`, `cd` into
 * `job.workDir`, the software environment, then the command (run by `bash -c` as one quoted word, so
 * it executes exactly as written) — through its framework's launcher (docs/launching.md).
 *
 * Resource mapping: one chunk per node with cpus, memoryMb and GPUs per node — PBS Pro/OpenPBS
 * `-l select=N:ncpus=C:mem=Mmb[:ngpus=G][:<gpuTypeResource>=<type>]` (+ `-l place=scatter` for N > 1),
 * Torque `-l nodes=N:ppn=C[:gpus=G][:<type>]` and `-l mem=<N×M>mb`. PBS cannot express alternative
 * GPU types, so a job may name at most one. Dependencies on known ids become `-W depend=afterok:…`
 * (succeeded → afterok, finished → afterany, failed → afternotok); in-batch upstreams (id null) are
 * wired on the qsub command line (`buildQsubArgv`). Output and error go to `<jobDir>/pbs.out|err`.
 * A submission key longer than the flavor's job-name limit is carried in `-v RPO_SUBMISSION_KEY=…`.
 * @throws RpoError('spec-invalid') for an unsafe job name, queue, account or GPU type, several GPU
 *   types, a bad env name, a NUL byte, a jobDir that is not a plain absolute path, non-positive
 *   resources, or a bad priority, array or signal.
 */
export function renderPbsScript(template: string, job: JobSubmission, options: PbsScriptOptions): string {
  return renderScriptTemplate('PBS template', template, {
    submission_key: safeName('submission key', job.submissionKey),
    pbs_directives: buildPbsDirectives(job, options)
      .map((directive) => `#PBS ${directive}`)
      .join('\n'),
    env_exports: [...buildPbsEnvExports(job.env), ...checkpointLibExports(job)].join('\n'),
    work_dir: noNul('workDir', job.workDir),
    signal_timer: buildPbsSignalTimer(job, checkpointSignal(job, options.signal)),
    launch: pbsLaunchPlan(job, options).lines.join('\n'),
  })
}

/**
 * The environment set-up and the launch of `job.command` (src/script/launch/launch-plan.ts). Multi-node
 * launches start their processes with OpenMPI's `mpirun`; the batch shell passes the checkpoint
 * signal (the timer's, `qsig`'s) on to the launcher.
 */
function pbsLaunchPlan(job: JobSubmission, options: PbsScriptOptions): LaunchPlan {
  return planLaunch(launchRequestOf(job, 'pbs', checkpointSignal(job, options.signal)?.name ?? null), {
    invalid,
    safeName,
    noNul,
    positive,
    positiveInteger,
    nonNegativeInteger,
  })
}

/** The `#PBS` options for `job`, each `-X value` with an already-safe value (without the `#PBS ` prefix). */
export function buildPbsDirectives(job: JobSubmission, options: PbsScriptOptions): string[] {
  const flavor = PBS_FLAVORS[options.flavor]
  const { resources } = job
  const jobName = choosePbsJobName(
    safeName('submission key', job.submissionKey),
    options.maxJobNameLength ?? flavor.maxJobNameLength,
  )
  const directives = [directive('-N', jobName.name)]
  const account = job.project ?? options.account
  if (account != null) directives.push(directive('-A', safeName('account (project)', account)))
  const queue = job.partition ?? options.queue
  if (queue !== undefined) directives.push(directive('-q', safeName('queue', queue)))
  // the script is bash; Torque and PBS run it with the login shell unless -S says otherwise
  directives.push(directive('-S', '/bin/bash'))
  directives.push(
    directive('-l', `walltime=${formatPbsWalltime(positive('timeLimitSeconds', resources.timeLimitSeconds))}`),
  )
  const gpus = resources.gpus
  const gpuTypes = [...new Set(gpus?.types ?? [])].map((type) => safeName('GPU type', type))
  const gpusPerNode = gpus === null ? 0 : nonNegativeInteger('gpus.count', gpus.count)
  if (gpusPerNode > 0 && gpuTypes.length > 1) {
    throw invalid(`PBS cannot ask for one of several GPU types (${gpuTypes.join(', ')}): pick one`)
  }
  const chunk = {
    nodes: positiveInteger('nodes', resources.nodes),
    cpusPerNode: positiveInteger('cpus', resources.cpus),
    memoryMbPerNode: positive('memoryMb', resources.memoryMb),
    gpusPerNode,
    gpuType: gpusPerNode > 0 ? (gpuTypes[0] ?? null) : null,
  }
  const names = {
    ...(options.gpuResource === undefined ? {} : { gpuResource: options.gpuResource }),
    ...(options.gpuTypeResource === undefined
      ? {}
      : { gpuTypeResource: safeName('gpuTypeResource', options.gpuTypeResource) }),
  }
  for (const request of flavor.resourceRequests(chunk, names)) directives.push(directive('-l', request))
  // upstreams submitted in the same batch have no id yet: buildQsubArgv wires those on the command line
  const depend = buildPbsDependSpec(
    job.dependsOn.flatMap((d) => (d.jobId === null ? [] : [{ jobId: d.jobId, condition: d.condition }])),
    options.flavor,
  )
  // built from checked ids only (assertPbsJobId): digits, letters, dots, dashes and an array's
  // brackets (`1234[].srv`), which qsub's directive reader takes as they are
  if (depend !== null) directives.push(`-W depend=${depend}`)
  // a checkpointing job may be rerun (qrerun, a node failure) and resumes from its checkpoint
  const rerunnable = job.checkpoint ? true : options.rerunnable
  if (rerunnable !== undefined) directives.push(directive('-r', rerunnable ? 'y' : 'n'))
  // submitted held (a budget): qrls releases it
  if (job.hold) directives.push('-h')
  if (options.priority !== undefined) {
    if (!Number.isInteger(options.priority) || options.priority < -1024 || options.priority > 1023) {
      throw invalid(`priority must be an integer in -1024…1023, got ${options.priority}`)
    }
    directives.push(directive('-p', String(options.priority)))
  }
  if (options.array !== undefined) {
    const [flag, value] = flavor.arrays.option(options.array)
    directives.push(directive(flag, value))
  }
  const jobDir = noNul('jobDir', job.jobDir).replace(/\/+$/, '')
  if (!DIRECTIVE_PATH.test(jobDir)) {
    throw invalid(`jobDir must be an absolute path of [A-Za-z0-9._/+@=,-], got ${JSON.stringify(job.jobDir)}`)
  }
  if (options.streams === undefined) {
    directives.push(directive('-o', `${jobDir}/pbs.out`), directive('-e', `${jobDir}/pbs.err`))
  } else {
    const token = flavor.arrays.pathIndexToken
    for (const [flag, path] of [
      ['-o', options.streams.stdout],
      ['-e', options.streams.stderr],
    ] as const) {
      // the index token is the one thing besides a plain path that qsub's directive reader gets
      if (!DIRECTIVE_PATH.test(token === null ? path : path.replace(token, 'x'))) {
        throw invalid(`${flag} must be an absolute path of [A-Za-z0-9._/+@=,-], got ${JSON.stringify(path)}`)
      }
      directives.push(`${flag} ${path}`)
    }
  }
  if (jobName.keyInVariable) directives.push(directive('-v', `${PBS_SUBMISSION_KEY_VARIABLE}=${job.submissionKey}`))
  return directives
}

/** `export NAME=value` lines, one per variable, in the order given; values are quoted. */
export function buildPbsEnvExports(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw invalid(`not an environment variable name: ${JSON.stringify(name)}`)
    return `export ${name}=${quoteShellWord(noNul(`env ${name}`, value))}`
  })
}

/** The warning a job gets before its walltime: its own checkpoint settings, else the cluster's. */
export function checkpointSignal(job: JobSubmission, fallback: PbsScriptOptions['signal']): PbsScriptOptions['signal'] {
  return job.checkpoint ? { name: job.checkpoint.signal, leadSeconds: job.checkpoint.leadSeconds } : fallback
}

/**
 * The timer that sends the checkpoint signal before the walltime ends; '' without a signal.
 * `$$` in the subshell is the batch shell's pid, which after `exec` is the command's.
 */
export function buildPbsSignalTimer(job: JobSubmission, signal: PbsScriptOptions['signal']): string {
  if (signal === undefined) return ''
  const name = signal.name.replace(/^SIG/, '')
  if (!/^[A-Z][A-Z0-9]{0,7}$/.test(name)) throw invalid(`not a signal name: ${JSON.stringify(signal.name)}`)
  const walltime = Math.ceil(positive('timeLimitSeconds', job.resources.timeLimitSeconds))
  if (!Number.isInteger(signal.leadSeconds) || signal.leadSeconds < 0 || signal.leadSeconds >= walltime) {
    throw invalid(`signal lead time must be 0…${walltime - 1} seconds, got ${signal.leadSeconds}`)
  }
  const delay = quoteShellWord(String(walltime - signal.leadSeconds))
  return [
    `# PBS has no signal-before-walltime option: send SIG${name} ${signal.leadSeconds} s before the limit`,
    `( sleep ${delay} && kill -s ${quoteShellWord(name)} "$$" ) </dev/null >/dev/null 2>&1 &`,
  ].join('\n')
}

// every directive value must be a plain word: qsub's directive tokenizer is not a shell
function directive(flag: string, value: string): string {
  if (quoteShellWord(value) !== value) throw invalid(`unsafe value for ${flag}: ${JSON.stringify(value)}`)
  return `${flag} ${value}`
}
