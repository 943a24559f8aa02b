/**
 * TRES-hours: what a job consumed (or may still consume), per meter — GPU-hours per GPU type,
 * CPU-hours, memory-GB-hours and scheduler billing units — and how a budget rule reads one number
 * off them (`meterAmount`). Raw hours stay per type; weights are applied only when a rule asks.
 */

export type BudgetResource = 'gpu-hours' | 'cpu-hours' | 'memory-gb-hours' | 'billing'

/** What a budget rule or a grant counts: a resource, narrowed to one GPU type or not. */
export interface BudgetScope {
  readonly resource: BudgetResource
  /** Only this GPU type (gpu-hours only); null = all types, weighted. */
  readonly gpuType: string | null
}

export interface TresHours {
  /** Hours per GPU type (device-hours). */
  readonly gpu: Readonly<Record<string, number>>
  readonly cpu: number
  readonly memoryGb: number
  readonly billing: number
}

/** GPU usage the scheduler reported only as `gres/gpu`, without a type. */
export const UNTYPED_GPU = 'untyped'
/**
 * Budget, not usage: GPU-hours of any type, already weighted. Only grants of an all-types
 * gpu-hours scope carry it; its weight is always 1, and no single-type rule counts it.
 */
export const ANY_GPU = '*'

const GPU_TYPED_PREFIX = 'gres/gpu:'
const MB_PER_GB = 1024

export function zeroTresHours(): TresHours {
  return { gpu: {}, cpu: 0, memoryGb: 0, billing: 0 }
}

/**
 * TRES-hours of an allocation held for `seconds`. Keys as the adapters produce them: `cpu`, `mem`
 * (MB, the whole job), `billing`, `gres/gpu` (count) and `gres/gpu:<type>` (typed count). GPUs
 * the scheduler counted in `gres/gpu` but did not type go to `untyped`. Other keys are ignored.
 */
export function tresHoursOf(allocTres: Readonly<Record<string, number>>, seconds: number): TresHours {
  const hours = Math.max(0, seconds) / 3600
  const gpu: Record<string, number> = {}
  let typed = 0
  for (const [key, count] of Object.entries(allocTres)) {
    if (!key.startsWith(GPU_TYPED_PREFIX) || !(count > 0)) continue
    const type = key.slice(GPU_TYPED_PREFIX.length)
    gpu[type] = (gpu[type] ?? 0) + count * hours
    typed += count
  }
  const untyped = (allocTres['gres/gpu'] ?? 0) - typed
  if (untyped > 0) gpu[UNTYPED_GPU] = (gpu[UNTYPED_GPU] ?? 0) + untyped * hours
  return {
    gpu,
    cpu: positive(allocTres.cpu) * hours,
    memoryGb: (positive(allocTres.mem) / MB_PER_GB) * hours,
    billing: positive(allocTres.billing) * hours,
  }
}

export function addTresHours(a: TresHours, b: TresHours): TresHours {
  return combine(a, b, 1)
}

export function subtractTresHours(a: TresHours, b: TresHours): TresHours {
  return combine(a, b, -1)
}

export function scaleTresHours(a: TresHours, factor: number): TresHours {
  const gpu: Record<string, number> = {}
  for (const type in a.gpu) gpu[type] = (a.gpu[type] as number) * factor
  return { gpu, cpu: a.cpu * factor, memoryGb: a.memoryGb * factor, billing: a.billing * factor }
}

/** Per meter max(0, a − b): what `a` adds over `b`, never negative (usage never un-charges). */
export function excessTresHours(a: TresHours, b: TresHours): TresHours {
  const gpu: Record<string, number> = {}
  for (const [type, h] of Object.entries(a.gpu)) {
    const more = h - (b.gpu[type] ?? 0)
    if (more > 0) gpu[type] = more
  }
  return {
    gpu,
    cpu: Math.max(0, a.cpu - b.cpu),
    memoryGb: Math.max(0, a.memoryGb - b.memoryGb),
    billing: Math.max(0, a.billing - b.billing),
  }
}

/** True when every meter is within `epsilon` of zero. */
export function isZeroTresHours(a: TresHours, epsilon = 1e-9): boolean {
  return (
    Math.abs(a.cpu) <= epsilon &&
    Math.abs(a.memoryGb) <= epsilon &&
    Math.abs(a.billing) <= epsilon &&
    Object.values(a.gpu).every((h) => Math.abs(h) <= epsilon)
  )
}

/** The TRES-hours that hold `amount` of one scope: what a grant moves in the ledger. */
export function tresHoursForScope(scope: BudgetScope, amount: number): TresHours {
  const zero = zeroTresHours()
  switch (scope.resource) {
    case 'gpu-hours':
      return { ...zero, gpu: { [scope.gpuType ?? ANY_GPU]: amount } }
    case 'cpu-hours':
      return { ...zero, cpu: amount }
    case 'memory-gb-hours':
      return { ...zero, memoryGb: amount }
    case 'billing':
      return { ...zero, billing: amount }
  }
}

/**
 * The one number a rule counts: gpu-hours of one type → that type's raw hours; gpu-hours of all
 * types → Σ hours × weight(type) (weight 1 when absent; always 1 for `*` grant budget); the other
 * resources read their meter.
 */
export function meterAmount(
  scope: BudgetScope,
  hours: TresHours,
  gpuWeights: Readonly<Record<string, number>> = {},
): number {
  switch (scope.resource) {
    case 'gpu-hours': {
      if (scope.gpuType !== null) return hours.gpu[scope.gpuType] ?? 0
      let sum = 0
      for (const type in hours.gpu) sum += (hours.gpu[type] ?? 0) * (type === ANY_GPU ? 1 : (gpuWeights[type] ?? 1))
      return sum
    }
    case 'cpu-hours':
      return hours.cpu
    case 'memory-gb-hours':
      return hours.memoryGb
    case 'billing':
      return hours.billing
  }
}

/** Human name of a scope: `gpu-hours`, `a100 gpu-hours`, `cpu-hours`. */
export function describeScope(scope: BudgetScope): string {
  return scope.gpuType === null ? scope.resource : `${scope.gpuType} ${scope.resource}`
}

function combine(a: TresHours, b: TresHours, sign: 1 | -1): TresHours {
  const gpu: Record<string, number> = { ...a.gpu }
  for (const type in b.gpu) gpu[type] = (gpu[type] ?? 0) + sign * (b.gpu[type] as number)
  return {
    gpu,
    cpu: a.cpu + sign * b.cpu,
    memoryGb: a.memoryGb + sign * b.memoryGb,
    billing: a.billing + sign * b.billing,
  }
}

function positive(value: number | undefined): number {
  return value !== undefined && value > 0 ? value : 0
}
