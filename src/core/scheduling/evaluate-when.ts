/**
 * `when:` conditions: evaluated once a task's upstreams have ended, against their final states and
 * the outputs they wrote. Pure; the result carries the reason a skipped task was skipped.
 */
import type { WhenSpec } from '../pipeline/pipeline-schema.js'
import type { TaskSnapshot } from './run-snapshot.js'

export interface WhenResult {
  readonly holds: boolean
  readonly reason: string
}

export function evaluateWhen(condition: WhenSpec, groups: ReadonlyMap<string, readonly TaskSnapshot[]>): WhenResult {
  const members = (groups.get(condition.task) ?? []).filter((t) => t.state !== 'expanded')
  if ('status' in condition) {
    const holds = members.length > 0 && members.every((t) => t.state === condition.status)
    return { holds, reason: `when: ${condition.task} is ${condition.status} — ${holds ? 'yes' : 'no'}` }
  }
  const outputs = members[0]?.outputs ?? {}
  const actual = outputs[condition.output]
  const expected = condition.value
  const holds = compare(actual, condition.op, expected)
  const shown = expected === undefined ? '' : ` ${JSON.stringify(expected)}`
  return {
    holds,
    reason: `when: ${condition.task}.${condition.output} ${condition.op}${shown} — got ${actual === undefined ? 'no such output' : JSON.stringify(actual)}`,
  }
}

function compare(actual: unknown, op: string, expected: unknown): boolean {
  switch (op) {
    case 'truthy':
      return Boolean(actual)
    case '==':
      return actual === expected
    case '!=':
      return actual !== expected
    case 'in':
      return Array.isArray(expected) && expected.includes(actual as never)
    default: {
      if (typeof actual !== 'number' || typeof expected !== 'number') return false
      if (op === '<') return actual < expected
      if (op === '<=') return actual <= expected
      if (op === '>') return actual > expected
      return actual >= expected
    }
  }
}
