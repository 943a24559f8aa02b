/**
 * `{{params.NAME}}` and `{{item}}` placeholders in task commands: the one pattern that finds them and
 * the check of which ones a task may use. A param must be an own key of the task's matrix (never a
 * JavaScript internal such as `constructor`); `{{item...}}` only in foreach tasks. Pure.
 */
import { suggest } from '../text/suggest.js'

export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g

export interface PlaceholderScope {
  /** The task's param names (matrix axes and include keys); null when the task has no matrix. */
  readonly params: readonly string[] | null
  /** Whether the task is a foreach template (it has `{{item}}` and `{{item.path}}`). */
  readonly item: boolean
}

/** One message per placeholder the task cannot fill, e.g. `unknown placeholder {{params.x}}; …`. */
export function placeholderProblems(command: string, scope: PlaceholderScope): string[] {
  const problems: string[] = []
  const seen = new Set<string>()
  for (const match of command.matchAll(PLACEHOLDER)) {
    const expression = match[1] as string
    if (seen.has(expression)) continue
    seen.add(expression)
    const [root, ...rest] = expression.split('.')
    const why = unknownBecause(root as string, rest, scope)
    if (why !== null) problems.push(`unknown placeholder {{${expression}}}${why}`)
  }
  return problems
}

function unknownBecause(root: string, rest: readonly string[], scope: PlaceholderScope): string | null {
  if (root === 'item') return scope.item ? null : ': only "foreach" tasks have an item'
  if (root !== 'params') return ': known placeholders are {{params.NAME}} and {{item}}'
  if (scope.params === null) return ': only tasks with a "matrix" have params'
  const key = rest.join('.')
  if (rest.length === 1 && scope.params.includes(key)) return null
  const close = suggest(key, scope.params)
  const hint = close === null ? '' : ` (did you mean {{params.${close}}}?)`
  return `${hint}; this task's params are: ${scope.params.join(', ') || 'none'}`
}
