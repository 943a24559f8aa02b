/**
 * Expansion of a resolved pipeline into task instances: matrix sweeps become one instance per
 * combination (`train.0`, `train.1`, ...), foreach tasks stay templates until their list is known at
 * run time (`expandForeach`). Placeholders in commands are substituted here, shell-quoted. Pure.
 */
import { quoteShellWord } from '../../script/shell-quote.js'
import { DagError } from '../errors.js'
import type { ResolvedMatrix, ResolvedPipeline, ResolvedTask, Scalar } from './resolved-pipeline.js'

export interface TaskInstance {
  /** Unique in the run: the task name, or `name.N` for the N-th instance of a sweep or fan-out. */
  readonly id: string
  /** The task name in the pipeline file; dependencies refer to groups. */
  readonly group: string
  readonly kind: 'task' | 'foreach-template'
  readonly params: Readonly<Record<string, Scalar>>
  readonly item: unknown
  readonly command: string
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g

export function expandPipeline(pipeline: ResolvedPipeline): TaskInstance[] {
  const instances: TaskInstance[] = []
  const problems: string[] = []
  for (const task of pipeline.tasks) {
    try {
      instances.push(...expandTask(task))
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error))
    }
  }
  if (problems.length > 0) throw new DagError('dag-unknown-dependency', problems.join('\n'))
  return instances
}

function expandTask(task: ResolvedTask): TaskInstance[] {
  if (task.foreach) {
    checkPlaceholders(task, new Set(['item']), true)
    return [
      { id: task.name, group: task.name, kind: 'foreach-template', params: {}, item: null, command: task.command },
    ]
  }
  if (!task.matrix) {
    checkPlaceholders(task, new Set(), false)
    return [{ id: task.name, group: task.name, kind: 'task', params: {}, item: null, command: task.command }]
  }
  const combinations = matrixCombinations(task.matrix)
  if (combinations.length === 0) throw new Error(`tasks.${task.name}.matrix: every combination is excluded`)
  return combinations.map((params, index) => ({
    id: `${task.name}.${index}`,
    group: task.name,
    kind: 'task',
    params,
    item: null,
    command: substitute(task, task.command, params, undefined),
  }))
}

/** Instances for a foreach template once its upstream wrote the list. */
export function expandForeach(template: ResolvedTask, items: readonly unknown[]): TaskInstance[] {
  return items.map((item, index) => ({
    id: `${template.name}.${index}`,
    group: template.name,
    kind: 'task',
    params: {},
    item,
    command: substitute(template, template.command, {}, item),
  }))
}

export function matrixCombinations(matrix: ResolvedMatrix): Record<string, Scalar>[] {
  let combos: Record<string, Scalar>[] = [{}]
  for (const [axis, values] of Object.entries(matrix.axes)) {
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [axis]: value })))
  }
  if (Object.keys(matrix.axes).length === 0) combos = []
  const matches = (combo: Record<string, Scalar>, partial: Readonly<Record<string, Scalar>>) =>
    Object.entries(partial).every(([k, v]) => combo[k] === v)
  combos = combos.filter((combo) => !matrix.exclude.some((ex) => matches(combo, ex)))
  for (const extra of matrix.include) {
    if (!combos.some((combo) => matches(combo, extra) && Object.keys(combo).length === Object.keys(extra).length)) {
      combos.push({ ...extra })
    }
  }
  return combos
}

function checkPlaceholders(task: ResolvedTask, allowedRoots: ReadonlySet<string>, allowItemPaths: boolean): void {
  for (const match of task.command.matchAll(PLACEHOLDER)) {
    const [root, key] = (match[1] as string).split('.')
    const ok = root === 'item' ? allowedRoots.has('item') && (allowItemPaths || key === undefined) : false
    if (!ok) {
      const why =
        root === 'params'
          ? 'only tasks with a "matrix" have params'
          : root === 'item'
            ? 'only "foreach" tasks have an item'
            : 'known placeholders are {{params.NAME}} and {{item}}'
      throw new Error(`tasks.${task.name}.command: unknown placeholder {{${match[1]}}}: ${why}`)
    }
  }
}

function substitute(task: ResolvedTask, command: string, params: Record<string, Scalar>, item: unknown): string {
  return command.replace(PLACEHOLDER, (_, expression: string) => {
    const [root, ...rest] = expression.split('.')
    if (root === 'params' && rest.length === 1 && (rest[0] as string) in params) {
      return quoteShellWord(String(params[rest[0] as string]))
    }
    if (root === 'item' && item !== undefined) {
      let value: unknown = item
      for (const key of rest) value = (value as Record<string, unknown> | null)?.[key]
      if (value === undefined)
        throw new Error(`tasks.${task.name}.command: {{${expression}}} is not in the item ${JSON.stringify(item)}`)
      return quoteShellWord(typeof value === 'string' ? value : JSON.stringify(value))
    }
    throw new Error(`tasks.${task.name}.command: unknown placeholder {{${expression}}}`)
  })
}
