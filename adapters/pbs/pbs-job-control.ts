/**
 * Acting on submitted PBS jobs: delete (qdel), hold and release (qhold/qrls), requeue (qrerun),
 * priority and nice (qalter -p) and signals (qsig), one command for any number of jobs. What a
 * server lacks (the Slurm Torque wrappers: no qrerun, qalter -p or qsig; PBS Pro: no hold of one
 * subjob) is refused with a usage error naming the server, never attempted.
 */
import { RpoError } from '../../src/core/errors.js'
import type { NativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { pbsJobsAlreadyGone } from './pbs-command-errors.js'
import {
  buildQalterPriorityArgv,
  buildQdelArgv,
  buildQholdArgv,
  buildQrerunArgv,
  buildQrlsArgv,
  buildQsigArgv,
} from './pbs-commands.js'
import { markAndDeletePbsJobs } from './pbs-exit-status-files.js'
import { PBS_FLAVORS } from './pbs-flavors.js'
import type { PbsServer } from './pbs-server.js'
import { pbsArrayParentId, pbsSubjobIndex } from './pbs-subjobs.js'

/** `qdel`; a job that already ended needs no deleting. Where jobs record their own exit status, marks them first. */
export async function cancelPbsJobs(server: PbsServer, jobIds: readonly NativeJobId[]): Promise<void> {
  if (jobIds.length === 0) return
  const dialect = await server.detect()
  const argv = buildQdelArgv(jobIds)
  if (!server.usesExitStatusFiles(dialect)) {
    // the wrappers' qdel exits non-zero in silence for a job that already ended
    await server.run(argv, { idempotent: true, allowFailure: pbsJobsAlreadyGone })
    return
  }
  await markAndDeletePbsJobs(server, jobIds, argv)
}

/** `qhold`; refused for one instance of a PBS Pro job array (see refuseSubjobHold). */
export async function holdPbsJobs(server: PbsServer, jobIds: readonly NativeJobId[]): Promise<void> {
  if (jobIds.length === 0) return
  await refuseSubjobHold(server, jobIds, 'holding (qhold)')
  await server.run(buildQholdArgv(jobIds), { idempotent: true })
}

/** `qrls`; refused for one instance of a PBS Pro job array (see refuseSubjobHold). */
export async function releasePbsJobs(server: PbsServer, jobIds: readonly NativeJobId[]): Promise<void> {
  if (jobIds.length === 0) return
  await refuseSubjobHold(server, jobIds, 'releasing (qrls)')
  await server.run(buildQrlsArgv(jobIds), { idempotent: true })
}

/** Put running jobs back in the queue (`qrerun`; they must be rerunnable, `script.rerunnable`). */
export async function requeuePbsJobs(server: PbsServer, jobIds: readonly NativeJobId[]): Promise<void> {
  await requireCapability(server, 'requeue', 'requeue (qrerun)')
  if (jobIds.length > 0) await server.run(buildQrerunArgv(jobIds), { idempotent: true })
}

/** The priority within the queue, -1024 (lowest) … 1023: `qalter -p`. */
export async function setPbsPriority(
  server: PbsServer,
  jobIds: readonly NativeJobId[],
  priority: number,
): Promise<void> {
  await requireCapability(server, 'priority', 'changing a job priority (qalter -p)')
  if (jobIds.length > 0) await server.run(buildQalterPriorityArgv(jobIds, priority), { idempotent: true })
}

/**
 * The contract's Slurm-style nice (0 highest … 10000 lowest, src/core/policy/nice-levels.ts) as a
 * PBS priority (1023 highest … -1024 lowest).
 */
export function pbsPriorityOfNice(nice: number): number {
  const clamped = Math.min(10_000, Math.max(0, nice))
  return Math.round(1023 - (clamped / 10_000) * 2047)
}

/** Send a signal to running jobs: `qsig -s <signal>`. */
export async function signalPbsJobs(server: PbsServer, jobIds: readonly NativeJobId[], signal: string): Promise<void> {
  await requireCapability(server, 'signal', 'signalling a job (qsig)')
  if (jobIds.length > 0) await server.run(buildQsigArgv(jobIds, signal), { idempotent: false })
}

// PBS Pro qhold(1B)/qrls(1B) act on jobs and whole arrays, "not on subjobs": holding the array
// instead would silently hold its other instances too, so say so rather than do it
async function refuseSubjobHold(server: PbsServer, jobIds: readonly NativeJobId[], what: string): Promise<void> {
  const subjob = jobIds.find((id) => pbsSubjobIndex(id) !== null)
  if (subjob === undefined) return
  const dialect = await server.detect()
  if (PBS_FLAVORS[dialect.flavor].arrays.holdSubjobs) return
  throw new RpoError(
    'usage',
    `${what} one instance of a job array is not possible on ${server.describeDialect()}: ${subjob} is a subjob, ` +
      `and PBS Pro holds and releases whole arrays only (${pbsArrayParentId(subjob)}); ` +
      'hold the whole array, or submit sweeps without arrays (PBS adapter option arrays: false)',
  )
}

async function requireCapability(
  server: PbsServer,
  capability: 'requeue' | 'priority' | 'signal',
  what: string,
): Promise<void> {
  await server.detect()
  if (!server.capabilities[capability]) {
    throw new RpoError(
      'usage',
      `${what} is not supported by this PBS server (${server.describeDialect()}): the Slurm Torque wrappers lack it`,
    )
  }
}
