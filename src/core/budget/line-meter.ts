/**
 * meterAmount for many TRES-hours against the same few book lines, without allocating: what the
 * enforcement planner does for every job of every tick (its rate on each line of its owner, and
 * the usage running jobs accrued). The numbers are meterAmount's to the bit: GPU hours are summed
 * in the same (property) order, times the same weights.
 *
 * Why not meterAmount itself: reading a double out of a `Record<string, number>` of many shapes
 * (a job's `gpu` hours, a project's `gpuWeights`) boxes it in a fresh heap number, and a 10,000-job
 * decision did that about 60,000 times — a tenth of what it allocated, promoted by the scavenger
 * because the decision is still running. Here each GPU figure of a job is read once, and weights
 * come from a Map (whose numbers are shared, not copied).
 */
import type { BookLine } from './budget-admission.js'
import { ANY_GPU, meterAmount, type TresHours } from './tres-hours.js'

/** The most GPU types one TresHours may carry before the meter falls back to a slower path. */
const MAX_TYPES = 16

export class LineMeter {
  /** Per gpuWeights record: weight by GPU type as meterAmount reads it (`*` = 1, absent = 1). */
  readonly #weights = new Map<Readonly<Record<string, number>>, Map<string, number>>()
  /** The GPU types and hours of the TresHours being metered, read once per call of `meter`. */
  readonly #types = new Array<string>(MAX_TYPES).fill('')
  readonly #hours = new Float64Array(MAX_TYPES)

  /** What `hours` counts on each of `lines`, into `out` from `offset` (one slot per line). */
  meter(hours: TresHours, lines: readonly BookLine[], out: Float64Array, offset = 0): void {
    const gpu = hours.gpu
    let count = 0
    for (const type in gpu) {
      if (count === MAX_TYPES) {
        this.#meterSlowly(hours, lines, out, offset)
        return
      }
      this.#types[count] = type
      this.#hours[count] = gpu[type] ?? 0
      count++
    }
    for (let k = 0; k < lines.length; k++) {
      const status = (lines[k] as BookLine).status
      let amount = 0
      switch (status.resource) {
        case 'gpu-hours':
          if (status.gpuType !== null) {
            for (let t = 0; t < count; t++) {
              if (this.#types[t] === status.gpuType) {
                amount = this.#hours[t] as number
                break
              }
            }
          } else {
            const weights = this.#weightsOf(status.gpuWeights)
            for (let t = 0; t < count; t++) {
              const type = this.#types[t] as string
              amount += (this.#hours[t] as number) * (type === ANY_GPU ? 1 : (weights.get(type) ?? 1))
            }
          }
          break
        case 'cpu-hours':
          amount = hours.cpu
          break
        case 'memory-gb-hours':
          amount = hours.memoryGb
          break
        case 'billing':
          amount = hours.billing
          break
      }
      out[offset + k] = amount
    }
  }

  #weightsOf(record: Readonly<Record<string, number>>): Map<string, number> {
    let weights = this.#weights.get(record)
    if (!weights) {
      weights = new Map()
      for (const type in record) {
        const weight = record[type]
        if (weight !== undefined) weights.set(type, weight)
      }
      this.#weights.set(record, weights)
    }
    return weights
  }

  /** A TresHours with more GPU types than the buffers hold: meterAmount itself. */
  #meterSlowly(hours: TresHours, lines: readonly BookLine[], out: Float64Array, offset: number): void {
    for (let k = 0; k < lines.length; k++) {
      const status = (lines[k] as BookLine).status
      out[offset + k] = meterAmount(status, hours, status.gpuWeights)
    }
  }
}
