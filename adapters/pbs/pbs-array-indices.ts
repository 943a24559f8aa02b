/**
 * Array index sets as PBS spells them: checking an array request, PBS Pro's evenly spaced
 * `first-last[:step]` ranges (and splitting other sets into such runs), Torque's `0-3,7` lists. Pure;
 * the flavor table (pbs-flavors.ts) builds its array dialects from these.
 */
import { RpoError } from '../../src/core/errors.js'

/** An array request: these indices (ascending, distinct), at most `maxConcurrent` running at once. */
export interface PbsArraySpec {
  readonly indices: readonly number[]
  readonly maxConcurrent?: number
}

export function checkArraySpec(spec: PbsArraySpec): { indices: readonly number[]; throttle: string } {
  const { indices, maxConcurrent } = spec
  const ascending = indices.every((index, i) => i === 0 || index > (indices[i - 1] as number))
  if (indices.length === 0 || !ascending || indices.some((index) => !Number.isInteger(index) || index < 0)) {
    throw new RpoError('spec-invalid', `PBS script: not ascending array indices: ${indices.join(',')}`)
  }
  if (maxConcurrent !== undefined && (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)) {
    throw new RpoError('spec-invalid', `PBS script: array concurrency must be a positive integer, got ${maxConcurrent}`)
  }
  return { indices, throttle: maxConcurrent === undefined ? '' : `%${maxConcurrent}` }
}

/** `first-last[:step]` when the indices are evenly spaced (what PBS Pro -J can say), else null. */
export function evenRange(indices: readonly number[]): string | null {
  if (indices.length < 2) return null
  const first = indices[0] as number
  const last = indices.at(-1) as number
  const step = (indices[1] as number) - first
  if (indices.some((index, i) => index !== first + i * step)) return null
  return step === 1 ? `${first}-${last}` : `${first}-${last}:${step}`
}

// greedy: the longest evenly spaced run from the lowest index, then again from the next one
export function evenRuns(indices: readonly number[]): number[][] {
  const runs: number[][] = []
  let start = 0
  while (start < indices.length - 1) {
    const step = (indices[start + 1] as number) - (indices[start] as number)
    let end = start + 1
    while (end + 1 < indices.length && (indices[end + 1] as number) - (indices[end] as number) === step) end++
    runs.push(indices.slice(start, end + 1))
    start = end + 1
  }
  return runs
}

/** `0-3,7,9-10`: runs of consecutive indices as ranges (Torque -t takes any such list). */
export function indexList(indices: readonly number[]): string {
  const parts: string[] = []
  let start = 0
  for (let i = 1; i <= indices.length; i++) {
    if (i < indices.length && (indices[i] as number) === (indices[i - 1] as number) + 1) continue
    const first = indices[start] as number
    const last = indices[i - 1] as number
    parts.push(first === last ? String(first) : `${first}-${last}`)
    start = i
  }
  return parts.join(',')
}
