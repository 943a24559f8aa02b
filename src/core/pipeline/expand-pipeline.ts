/**
 * Expansion of a resolved pipeline into task instances: matrix sweeps become one instance per
 * combination (`train.0`, `train.1`, ...), foreach tasks stay templates until their list is known at
 * run time (`expandForeach`). Placeholders in commands are substituted here, shell-quoted. Pure.
 */

import { DagError } from '../errors.js'
import { quoteShellWord } from '../text/shell-quote.js'
import { PLACEHOLDER, placeholderProblems } from './placeholders.js'
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
  checkPlaceholders(task)
  if (task.foreach) {
    return [
      { id: task.name, group: task.name, kind: 'foreach-template', params: {}, item: null, command: task.command },
    ]
  }
  if (!task.matrix) {
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
    Object.entries(partial).every(([k, v]) => Object.hasOwn(combo, k) && combo[k] === v)
  combos = combos.filter((combo) => !matrix.exclude.some((ex) => matches(combo, ex)))
  // an include equal to a combination already there adds nothing; found by key, not by a scan per include
  const present = new Set(combos.map(comboKey))
  for (const extra of matrix.include) {
    const key = comboKey(extra)
    if (!present.has(key)) {
      present.add(key)
      combos.push({ ...extra })
    }
  }
  return combos
}

function comboKey(combo: Readonly<Record<string, Scalar>>): string {
  return JSON.stringify(Object.entries(combo).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** A second look for pipelines that did not come through the schema (e.g. a stored run's). */
function checkPlaceholders(task: ResolvedTask): void {
  const params = task.matrix
    ? [...new Set([...Object.keys(task.matrix.axes), ...task.matrix.include.flatMap((extra) => Object.keys(extra))])]
    : null
  const [problem] = placeholderProblems(task.command, { params, item: task.foreach !== null })
  if (problem) throw new Error(`tasks.${task.name}.command: ${problem}`)
}

function substitute(task: ResolvedTask, command: string, params: Record<string, Scalar>, item: unknown): string {
  return command.replace(PLACEHOLDER, (_, expression: string) => {
    const [root, ...rest] = expression.split('.')
    if (root === 'params' && rest.length === 1 && Object.hasOwn(params, rest[0] as string)) {
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
