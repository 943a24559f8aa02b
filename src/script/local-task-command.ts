/**
 * The command the local executor runs for a job: the task's command behind its software
 * environment (modules, conda/venv, setup lines, container — the same lines as in a batch script),
 * or the command alone when it has none. The local executor runs one process on this machine and
 * has no allocation to launch ranks across, so a framework that needs a launcher is refused.
 */
import type { JobSubmission } from '../scheduler/scheduler-adapter.js'
import { needsLauncher, planLaunch } from './launch/launch-plan.js'
import { scriptValueChecks } from './script-values.js'

const checks = scriptValueChecks('local executor')

/**
 * @throws RpoError('spec-invalid') for a framework that needs a launcher (pytorch-ddp, deepspeed,
 *   horovod, mpi, ray; tensorflow and jax on several nodes), or a NUL byte in the environment.
 */
export function localTaskCommand(job: JobSubmission): string {
  const framework = job.framework ?? null
  if (needsLauncher(framework, job.resources.nodes)) {
    throw checks.invalid(
      `task ${job.taskId}: framework ${framework} starts its processes with a launcher across a batch allocation (docs/launching.md), which the local executor does not have; run it on a Slurm or PBS cluster, or use framework pytorch (one process) locally`,
    )
  }
  if (!job.environment) return job.command
  const plan = planLaunch(
    {
      scheduler: 'slurm',
      framework: null,
      command: job.command,
      nodes: 1,
      cpusPerNode: Math.max(1, Math.ceil(job.resources.cpus)),
      gpusPerNode: job.resources.gpus?.count ?? 0,
      environment: job.environment,
      envNames: Object.keys(job.env),
      signal: null,
    },
    checks,
  )
  return plan.lines.join('\n')
}
