/**
 * The tail of a batch script: the software environment, then the task's command started the way
 * its framework needs inside the allocation (docs/launching.md). A plain command (no framework, or
 * pytorch / sklearn / xgboost, or tensorflow / jax on one node) is `exec`ed as before, so the
 * scheduler's signal reaches it directly; a launcher runs in the background while the batch shell
 * forwards the checkpoint signal to it. Also says how many tasks per node and CPUs per task the
 * allocation must have for that launch. Pure.
 */
import type { Framework, SoftwareEnvironment } from '../../core/pipeline/workload-fields.js'
import type { JobSubmission } from '../../scheduler/scheduler-adapter.js'
import type { ScriptValueChecks } from '../script-values.js'
import { quoteShellWord } from '../shell-quote.js'
import { buildEnvironmentSetup, containerWords } from '../software-environment.js'
import { ALLOCATION_VARIABLES, type BatchScheduler, RANK_VARIABLES } from './allocation-steps.js'
import { FRAMEWORK_VARIABLES, frameworkLaunch, type LaunchShape } from './framework-launchers.js'

export type { BatchScheduler } from './allocation-steps.js'

export interface LaunchRequest {
  readonly scheduler: BatchScheduler
  readonly framework: Framework | null
  readonly command: string
  readonly nodes: number
  /** CPUs per node (the task's `cpus`). */
  readonly cpusPerNode: number
  readonly gpusPerNode: number
  readonly environment: SoftwareEnvironment | null
  /** The job's own variables (RPO_*, the task's env), which docker and mpirun must pass on. */
  readonly envNames: readonly string[]
  /** The checkpoint signal the batch shell forwards to a launcher (`USR2`); null for none. */
  readonly signal: string | null
  /** Slurm's MPI plugin for rank steps. @default pmix */
  readonly slurmMpi?: string
  /**
   * A folder the ranks and the batch shell share (the job's folder): a torchrun worker that exits
   * with the checkpoint status leaves a mark there, since torchrun itself reports any failed worker
   * as 1. Null: a checkpointed torchrun job ends with 1.
   */
  readonly sharedDir?: string | null
}

export interface LaunchPlan {
  /** Tasks per node the allocation needs; null when the command runs alone in the batch shell. */
  readonly tasksPerNode: number | null
  /** CPUs per task for that many tasks per node (all of the node's CPUs for one task). */
  readonly cpusPerTask: number
  /** Script lines from the environment setup to the end. */
  readonly lines: readonly string[]
}

/** Frameworks whose command is one process in the batch shell: no launcher. */
const SINGLE_PROCESS: ReadonlySet<Framework> = new Set(['pytorch', 'sklearn', 'xgboost'])

/** Whether `framework` on `nodes` nodes needs a launcher (false: the command is exec'ed as it is). */
export function needsLauncher(framework: Framework | null, nodes: number): boolean {
  if (framework === null || SINGLE_PROCESS.has(framework)) return false
  // one TensorFlow or JAX process on one node uses its local devices without any cluster set-up
  if ((framework === 'tensorflow' || framework === 'jax') && nodes === 1) return false
  return true
}

/** What a job asks of its launch, the same for Slurm and PBS scripts; `signal` is the checkpoint signal the batch shell passes on. */
export function launchRequestOf(job: JobSubmission, scheduler: BatchScheduler, signal: string | null): LaunchRequest {
  return {
    scheduler,
    framework: job.framework ?? null,
    command: job.command,
    nodes: job.resources.nodes,
    cpusPerNode: job.resources.cpus,
    gpusPerNode: job.resources.gpus?.count ?? 0,
    environment: job.environment ?? null,
    envNames: Object.keys(job.env),
    sharedDir: job.jobDir,
    signal,
  }
}

/**
 * The environment lines and the launch of `request.command`.
 * @throws RpoError('spec-invalid') (through `checks`) for a NUL byte, an unusable signal name, a
 *   launch with more ranks per node than CPUs, or a multi-node task whose framework has no launcher.
 */
export function planLaunch(request: LaunchRequest, checks: ScriptValueChecks): LaunchPlan {
  const command = checks.noNul('command', request.command)
  const nodes = checks.positiveInteger('nodes', request.nodes)
  const cpus = checks.positiveInteger('cpus', request.cpusPerNode)
  const gpus = checks.nonNegativeInteger('gpus', request.gpusPerNode)
  const signal = request.signal === null ? null : signalName(request.signal, checks)
  const environment = buildEnvironmentSetup(request.environment, checks)
  const container = containerWords(
    request.environment?.container ?? null,
    { gpus, passEnv: [...request.envNames, ...ALLOCATION_VARIABLES, ...RANK_VARIABLES, ...FRAMEWORK_VARIABLES] },
    checks,
  )
  const framework = request.framework
  if (framework === null || !needsLauncher(framework, nodes)) {
    if (nodes > 1 && framework !== null) {
      throw checks.invalid(
        `framework ${framework} runs one process and has no multi-node launcher, but the task asks for ${nodes} nodes: use pytorch-ddp, deepspeed, horovod, mpi, ray, tensorflow or jax, or nodes: 1`,
      )
    }
    // exec: the batch shell becomes the command, so the scheduler's signal reaches it directly
    return {
      tasksPerNode: null,
      cpusPerTask: cpus,
      lines: [...environment, `exec ${[...container, '/bin/bash', '-c', quoteShellWord(command)].join(' ')}`],
    }
  }
  const shape: LaunchShape = {
    scheduler: request.scheduler,
    nodes,
    cpusPerNode: cpus,
    gpusPerNode: gpus,
    container,
    signal,
    passEnv: [...request.envNames, ...ALLOCATION_VARIABLES, ...FRAMEWORK_VARIABLES],
    slurmMpi: checks.safeName('Slurm MPI plugin', request.slurmMpi ?? 'pmix'),
    checkpointMark:
      signal === null || !request.sharedDir ? null : `${request.sharedDir.replace(/\/+$/, '')}/launch-checkpointed`,
  }
  const launch = frameworkLaunch(framework, shape, command, checks)
  return {
    tasksPerNode: launch.tasksPerNode,
    cpusPerTask: launch.cpusPerTask,
    lines: [
      ...environment,
      `# rpo launch: ${framework} on ${nodes} node(s) (docs/launching.md)`,
      ...launch.setup,
      ...runInBackground(launch.step, signal, launch.after ?? []),
    ],
  }
}

function signalName(signal: string, checks: ScriptValueChecks): string {
  const name = signal.replace(/^SIG/, '')
  if (!/^[A-Z][A-Z0-9]{0,7}$/.test(name)) throw checks.invalid(`not a signal name: ${JSON.stringify(signal)}`)
  return name
}

/**
 * Wait for `pid` (a shell expression such as `$rpo_launcher`) through trapped signals (a trapped signal makes `wait` return early, > 128, while
 * the process runs on), then set `rpo_status` to its exit status — bash keeps the status of a
 * waited-for child, so the last `wait` returns it even when the loop's `wait` already did.
 */
function waitLines(pid: string): string[] {
  return [`while kill -0 "${pid}" 2>/dev/null; do wait "${pid}"; done`, `wait "${pid}"; rpo_status=$?`]
}

/**
 * The launch step's lines. With a checkpoint signal the step runs in the background and the batch
 * shell — which is what the scheduler signals (`--signal=B:`, `scancel --batch`, the PBS timer) —
 * passes the signal on to it: srun hands it to every process of its step, mpirun to its ranks.
 */
function runInBackground(step: readonly string[], signal: string | null, after: readonly string[] = []): string[] {
  if (signal === null) return [...step]
  const last = step.length - 1
  return [
    ...step.slice(0, last),
    `${step[last]} &`,
    'rpo_launcher=$!',
    `trap 'kill -s ${signal} "$rpo_launcher" 2>/dev/null' ${signal}`,
    ...waitLines('$rpo_launcher'),
    ...after,
    'exit "$rpo_status"',
  ]
}
