/**
 * What a job asks for, in the TRES vocabulary the ledger charges (`cpu`, `mem` in MB, `node`,
 * `gres/gpu[:type]`): the rate a queued job would burn, and so its worst case (rate × time limit)
 * before the scheduler reports what it allocated. Pure.
 */
import type { ResourceRequest } from '../resources/resource-request.js'
import { scaleTresHours, type TresHours, tresHoursOf } from './tres-hours.js'

/**
 * TRES-hours per hour of wall time. A request that accepts several GPU types is charged as the
 * one its project weighs most, so the worst case is never underestimated; one without a type is
 * untyped GPU-hours, which count only against all-type budgets.
 */
export function requestedRate(
  resources: ResourceRequest,
  gpuWeights: Readonly<Record<string, number>> = {},
): TresHours {
  return tresHoursOf(requestedAllocTres(resources, gpuWeights), 3600)
}

/** The allocation a request asks for, keyed as the adapters report AllocTRES. */
export function requestedAllocTres(
  resources: ResourceRequest,
  gpuWeights: Readonly<Record<string, number>> = {},
): Record<string, number> {
  const nodes = Math.max(1, resources.nodes)
  const tres: Record<string, number> = { cpu: resources.cpus * nodes, mem: resources.memoryMb * nodes, node: nodes }
  const gpus = resources.gpus
  if (gpus && gpus.count > 0) {
    const count = gpus.count * nodes
    tres['gres/gpu'] = count
    const [heaviest] = [...gpus.types].sort((a, b) => (gpuWeights[b] ?? 1) - (gpuWeights[a] ?? 1) || a.localeCompare(b))
    if (heaviest !== undefined) tres[`gres/gpu:${heaviest}`] = count
  }
  return tres
}

/** The most a job may use: its rate over its whole time limit. */
export function requestedWorstCase(
  resources: ResourceRequest,
  gpuWeights: Readonly<Record<string, number>> = {},
): TresHours {
  return scaleTresHours(requestedRate(resources, gpuWeights), resources.timeLimitSeconds / 3600)
}
