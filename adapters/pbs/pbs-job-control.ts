/**
 * Acting on submitted PBS jobs: delete (qdel), and the contract's `control` — hold and release
 * (qhold/qrls), nice as a priority (qalter -p) and signals (qsig) — one command for any number of
 * jobs. What a server lacks (its row of the flavor table: the Slurm Torque wrappers have no qalter -p
 * or qsig) is refused with `RpoError('unsupported')` naming the server, never attempted; so is a hold
 * of one PBS Pro subjob (a usage error: the server holds whole arrays only).
 */
import { RpoError } from '../../src/core/errors.js'
import {
  controlCapability,
  type JobControl,
  type NativeJobId,
  unsupportedControl,
} from '../../src/scheduler/scheduler-adapter.js'
import { pbsJobsAlreadyGone } from './pbs-command-errors.js'
import { buildQalterPriorityArgv, buildQdelArgv, buildQholdArgv, buildQrlsArgv, buildQsigArgv } from './pbs-commands.js'
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

/**
 * Hold, release, renice or signal jobs. `qhold`/`qrls` are refused for one instance of a PBS Pro job
 * array (see refuseSubjobHold); a nice becomes a PBS priority (pbsPriorityOfNice).
 */
export async function controlPbsJobs(
  server: PbsServer,
  jobIds: readonly NativeJobId[],
  action: JobControl,
): Promise<void> {
  await server.detect()
  if (!server.capabilities[controlCapability(action)]) throw unsupportedControl(server.describeDialect(), action)
  if (jobIds.length === 0) return
  switch (action.kind) {
    case 'hold':
      await refuseSubjobHold(server, jobIds, 'holding (qhold)')
      await server.run(buildQholdArgv(jobIds), { idempotent: true })
      return
    case 'release':
      await refuseSubjobHold(server, jobIds, 'releasing (qrls)')
      await server.run(buildQrlsArgv(jobIds), { idempotent: true })
      return
    case 'nice':
      await server.run(buildQalterPriorityArgv(jobIds, pbsPriorityOfNice(action.nice)), { idempotent: true })
      return
    case 'signal':
      await server.run(buildQsigArgv(jobIds, action.signal), { idempotent: false })
      return
  }
}

/**
 * The contract's Slurm-style nice (0 highest … 10000 lowest, src/core/policy/nice-levels.ts) as a
 * PBS priority (1023 highest … -1024 lowest).
 */
export function pbsPriorityOfNice(nice: number): number {
  const clamped = Math.min(10_000, Math.max(0, nice))
  return Math.round(1023 - (clamped / 10_000) * 2047)
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
