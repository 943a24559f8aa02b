/**
 * The resolved pipeline: a validated PipelineSpec with units converted, defaults applied and every
 * reference checked (unknown dependencies with a did-you-mean, cycles named by their path). Pure.
 */

import { DagError } from '../errors.js'
import { hostDefaultsForGpus } from '../gpu/model-memory.js'
import type { DependencyCondition } from '../job/dependency-condition.js'
import type { GpuRequest, ResourceRequest } from '../resources/resource-request.js'
import { editDistance } from '../text/suggest.js'
import type { PipelineSpec, ResourcesSpec, TaskSpec, WhenSpec } from './pipeline-schema.js'
import { parseDurationSeconds, parseMemoryMb } from './units.js'
import {
  type Framework,
  type ResolvedModel,
  resolveModel,
  resolveSoftwareEnvironment,
  type SoftwareEnvironment,
} from './workload-fields.js'

export type Scalar = string | number | boolean

export interface RetryPolicy {
  /** Attempts after the first. */
  readonly maxRetries: number
  readonly backoffSeconds: number
  readonly factor: number
  readonly maxBackoffSeconds: number
  readonly on: readonly RetryableEnding[]
  /** Memory multiplier for the attempt after an out-of-memory ending. */
  readonly oomMemoryFactor: number
  /** Escalation ceiling in MB; null for none. */
  readonly oomMaxMemoryMb: number | null
  /** Time-limit multiplier for the attempt after a time-limit ending (a task without a checkpoint). */
  readonly timeFactor: number
  /** Escalation ceiling in seconds; null for none. */
  readonly maxTimeSeconds: number | null
}

/** A task's checkpoint-resume settings (docs/checkpointing.md, protocol 1). */
export interface ResolvedCheckpoint {
  /** Relative to the task's output folder unless absolute. */
  readonly dir: string
  /** `RPO_CHECKPOINT_EVERY` form: `600s`, `500steps`, `500steps,30m`, `never`. */
  readonly every: string
  readonly keep: number
  readonly leadSeconds: number
  /** Without the SIG prefix, e.g. `USR2`. */
  readonly signal: string
  readonly maxResumes: number
}

export const CHECKPOINT_EXIT_CODE = 85
export type RetryableEnding = 'failed' | 'timeout' | 'out_of_memory' | 'node_fail' | 'preempted' | 'lost'
const ALL_ENDINGS: readonly RetryableEnding[] = ['failed', 'timeout', 'out_of_memory', 'node_fail', 'preempted', 'lost']

export interface ResolvedDependency {
  readonly task: string
  readonly condition: DependencyCondition
}

export interface ResolvedTask {
  readonly name: string
  readonly description: string | null
  /** Shell command text; `{{params.x}}`/`{{item}}` placeholders are still in it. */
  readonly command: string
  readonly resources: ResourceRequest & { readonly partition: string | null; readonly qos: string | null }
  readonly after: readonly ResolvedDependency[]
  readonly when: readonly WhenSpec[]
  readonly matrix: ResolvedMatrix | null
  readonly foreach: { readonly task: string; readonly output: string } | null
  readonly retry: RetryPolicy
  readonly checkpoint: ResolvedCheckpoint | null
  readonly expectedSeconds: number | null
  /** At most this many instances at once; null for no limit. */
  readonly maxParallel: number | null
  /** The cluster this task runs on; null for the run's cluster. */
  readonly cluster: string | null
  readonly env: Readonly<Record<string, string>>
  /** The task's framework, or the pipeline default's; null for a plain command. */
  readonly framework: Framework | null
  readonly model: ResolvedModel | null
  /** Modules, conda/venv, container and setup lines; null when none is declared. */
  readonly environment: SoftwareEnvironment | null
  readonly metadata: Readonly<Record<string, unknown>>
}

export interface ResolvedMatrix {
  readonly axes: Readonly<Record<string, readonly Scalar[]>>
  readonly include: readonly Readonly<Record<string, Scalar>>[]
  readonly exclude: readonly Readonly<Record<string, Scalar>>[]
}

export interface ResolvedPipeline {
  readonly name: string
  readonly description: string | null
  readonly project: string | null
  readonly cluster: string | null
  readonly importance: number
  readonly deadline: string | null
  /** Tasks in a topological order (upstreams first; ties by declaration order). */
  readonly tasks: readonly ResolvedTask[]
  readonly metadata: Readonly<Record<string, unknown>>
}

export interface ResolveOptions {
  /** How a `script:` path becomes a command (e.g. made absolute against the pipeline file's folder). */
  readonly scriptCommand: (scriptPath: string) => string
}

const DEFAULT_RESOURCES = { cpus: 1, memoryMb: 1024, timeLimitSeconds: 3600, nodes: 1 }

export function resolvePipeline(spec: PipelineSpec, options: ResolveOptions): ResolvedPipeline {
  const names = Object.keys(spec.tasks)
  const tasks = new Map<string, ResolvedTask>()
  for (const name of names) {
    tasks.set(name, resolveTask(name, spec.tasks[name] as TaskSpec, spec, options))
  }
  checkReferences(tasks)
  return {
    name: spec.name,
    description: spec.description ?? null,
    project: spec.project ?? null,
    cluster: spec.cluster ?? null,
    importance: spec.importance ?? 1,
    deadline: spec.deadline ?? null,
    tasks: topologicalOrder(tasks, names),
    metadata: spec.metadata ?? {},
  }
}

function resolveTask(name: string, task: TaskSpec, spec: PipelineSpec, options: ResolveOptions): ResolvedTask {
  const after: ResolvedDependency[] = (task.after ?? []).map((dep) =>
    typeof dep === 'string' ? { task: dep, condition: 'succeeded' } : { task: dep.task, condition: dep.condition },
  )
  // a fan-out needs its list: the source task is an implicit upstream
  if (task.foreach && !after.some((dep) => dep.task === task.foreach?.task)) {
    after.push({ task: task.foreach.task, condition: 'succeeded' })
  }
  const { include, exclude, ...axes } = task.matrix ?? {}
  const resourceSpec = { ...spec.defaults?.resources, ...task.resources }
  const framework = task.framework ?? spec.defaults?.framework ?? null
  return {
    name,
    description: task.description ?? null,
    command: task.command ?? options.scriptCommand(task.script as string),
    // a GPU framework's CPUs and memory per GPU where the file names none (model-memory.ts)
    resources: hostDefaultsForGpus(resolveResources(resourceSpec), framework, {
      cpus: resourceSpec.cpus !== undefined,
      memory: resourceSpec.memory !== undefined,
    }),
    after,
    when: task.when ?? [],
    matrix: task.matrix
      ? { axes: axes as Record<string, Scalar[]>, include: include ?? [], exclude: exclude ?? [] }
      : null,
    foreach: task.foreach ?? null,
    retry: resolveRetry(task.retries ?? spec.defaults?.retries),
    checkpoint: task.checkpoint ? resolveCheckpoint(task.checkpoint) : null,
    expectedSeconds: task.expected === undefined ? null : parseDurationSeconds(task.expected),
    maxParallel: task.maxParallel ?? null,
    cluster: task.cluster ?? null,
    env: stringifyValues({ ...spec.defaults?.env, ...spec.env, ...task.env }),
    framework,
    model: task.model ? resolveModel(task.model) : null,
    environment: resolveSoftwareEnvironment(spec.defaults?.environment, task.environment),
    metadata: task.metadata ?? {},
  }
}

export function resolveResources(spec: ResourcesSpec): ResolvedTask['resources'] {
  let gpus: GpuRequest | null = null
  if (typeof spec.gpus === 'number') gpus = { count: spec.gpus, types: [] }
  else if (spec.gpus) {
    const types = spec.gpus.type === undefined ? [] : Array.isArray(spec.gpus.type) ? spec.gpus.type : [spec.gpus.type]
    const minMemoryMb = spec.gpus.minMemory === undefined ? null : parseMemoryMb(spec.gpus.minMemory)
    gpus = { count: spec.gpus.count, types, ...(minMemoryMb === null ? {} : { minMemoryGb: minMemoryMb / 1024 }) }
  }
  return {
    cpus: spec.cpus ?? DEFAULT_RESOURCES.cpus,
    memoryMb: spec.memory === undefined ? DEFAULT_RESOURCES.memoryMb : (parseMemoryMb(spec.memory) as number),
    timeLimitSeconds:
      spec.time === undefined ? DEFAULT_RESOURCES.timeLimitSeconds : (parseDurationSeconds(spec.time) as number),
    gpus,
    nodes: spec.nodes ?? DEFAULT_RESOURCES.nodes,
    partition: spec.partition ?? null,
    qos: spec.qos ?? null,
  }
}

function resolveRetry(spec: TaskSpec['retries']): RetryPolicy {
  if (spec === undefined || typeof spec === 'number') {
    return {
      maxRetries: spec ?? 0,
      backoffSeconds: 5,
      factor: 2,
      maxBackoffSeconds: 600,
      on: ALL_ENDINGS,
      oomMemoryFactor: DEFAULT_OOM_FACTOR,
      oomMaxMemoryMb: null,
      timeFactor: DEFAULT_TIME_FACTOR,
      maxTimeSeconds: null,
    }
  }
  return {
    maxRetries: spec.max,
    backoffSeconds: spec.backoff === undefined ? 5 : (parseDurationSeconds(spec.backoff) as number),
    factor: spec.factor ?? 2,
    maxBackoffSeconds: spec.maxBackoff === undefined ? 600 : (parseDurationSeconds(spec.maxBackoff) as number),
    on: spec.on ?? ALL_ENDINGS,
    oomMemoryFactor: spec.oomMemoryFactor ?? DEFAULT_OOM_FACTOR,
    oomMaxMemoryMb: spec.oomMaxMemory === undefined ? null : (parseMemoryMb(spec.oomMaxMemory) as number),
    timeFactor: spec.timeFactor ?? DEFAULT_TIME_FACTOR,
    maxTimeSeconds: spec.maxTime === undefined ? null : (parseDurationSeconds(spec.maxTime) as number),
  }
}

const DEFAULT_OOM_FACTOR = 1.5
// as memory: the same limit again would most likely end the same way, and maxRetries bounds the growth
const DEFAULT_TIME_FACTOR = 1.5

function resolveCheckpoint(spec: NonNullable<TaskSpec['checkpoint']>): ResolvedCheckpoint {
  return {
    dir: spec.dir ?? 'checkpoints',
    every: spec.every === undefined ? '600s' : typeof spec.every === 'number' ? `${spec.every}s` : spec.every,
    keep: spec.keep ?? 3,
    leadSeconds: spec.leadTime === undefined ? 300 : (parseDurationSeconds(spec.leadTime) as number),
    signal: (spec.signal ?? 'USR2').replace(/^SIG/, ''),
    maxResumes: spec.maxResumes ?? 20,
  }
}

function stringifyValues(values: Record<string, Scalar>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]))
}

/**
 * Did-you-mean hints compare a name with every task name; past this many unknown references the rest
 * are listed without one, so a file with thousands of them is not checked in quadratic time.
 */
const MAX_HINTS = 20

function checkReferences(tasks: ReadonlyMap<string, ResolvedTask>): void {
  const names = [...tasks.keys()]
  const problems: string[] = []
  let hints = 0
  const hint = (name: string) => (hints++ < MAX_HINTS ? didYouMean(name, names) : '')
  for (const task of tasks.values()) {
    if (task.checkpoint && task.checkpoint.leadSeconds >= task.resources.timeLimitSeconds) {
      problems.push(
        `tasks.${task.name}.checkpoint.leadTime: ${task.checkpoint.leadSeconds}s is not shorter than the time limit (${task.resources.timeLimitSeconds}s); the job would be told to stop as it starts`,
      )
    }
    for (const dep of task.after) {
      if (!tasks.has(dep.task)) problems.push(`tasks.${task.name}.after: unknown task "${dep.task}"${hint(dep.task)}`)
      if (dep.task === task.name) problems.push(`tasks.${task.name}.after: a task cannot depend on itself`)
    }
    for (const [i, when] of task.when.entries()) {
      if (!tasks.has(when.task))
        problems.push(`tasks.${task.name}.when[${i}]: unknown task "${when.task}"${hint(when.task)}`)
      else if (!task.after.some((dep) => dep.task === when.task)) {
        problems.push(
          `tasks.${task.name}.when[${i}]: "${when.task}" must also be listed in "after" (a condition can only look upstream)`,
        )
      } else if ('output' in when && (tasks.get(when.task)?.matrix || tasks.get(when.task)?.foreach)) {
        problems.push(
          `tasks.${task.name}.when[${i}]: output conditions need a single-instance upstream; "${when.task}" fans out`,
        )
      }
    }
    if (task.foreach && !tasks.has(task.foreach.task)) {
      problems.push(`tasks.${task.name}.foreach.task: unknown task "${task.foreach.task}"${hint(task.foreach.task)}`)
    }
  }
  if (problems.length > 0) throw new DagError('dag-unknown-dependency', problems.join('\n'))
}

function didYouMean(name: string, names: readonly string[]): string {
  const close = names.filter((n) => n.toLowerCase().includes(name.toLowerCase()) || editDistance(n, name) <= 2)
  return close.length > 0 ? ` (did you mean "${close[0]}"?)` : ''
}

/** Kahn's algorithm; on a cycle, names it (`a -> b -> a`). */
function topologicalOrder(tasks: ReadonlyMap<string, ResolvedTask>, declared: readonly string[]): ResolvedTask[] {
  const indegree = new Map(declared.map((n) => [n, 0]))
  const downstream = new Map<string, string[]>(declared.map((n) => [n, []]))
  for (const task of tasks.values()) {
    for (const dep of new Set(task.after.map((d) => d.task))) {
      indegree.set(task.name, (indegree.get(task.name) ?? 0) + 1)
      downstream.get(dep)?.push(task.name)
    }
  }
  const queue = declared.filter((n) => indegree.get(n) === 0)
  const order: ResolvedTask[] = []
  for (let i = 0; i < queue.length; i++) {
    const name = queue[i] as string
    order.push(tasks.get(name) as ResolvedTask)
    for (const next of downstream.get(name) ?? []) {
      const left = (indegree.get(next) as number) - 1
      indegree.set(next, left)
      if (left === 0) queue.push(next)
    }
  }
  if (order.length < declared.length) {
    const cycle = findCycle(
      tasks,
      declared.filter((n) => (indegree.get(n) ?? 0) > 0),
    )
    throw new DagError('dag-cycle', `dependency cycle: ${describeCycle(cycle)}`)
  }
  return order
}

/**
 * One cycle among the tasks left over by Kahn's algorithm, found by an iterative depth-first search
 * (a recursive one overflows the stack on a chain of thousands of tasks).
 */
function findCycle(tasks: ReadonlyMap<string, ResolvedTask>, candidates: readonly string[]): string[] {
  const state = new Map<string, 'visiting' | 'done'>()
  for (const root of candidates) {
    if (state.has(root)) continue
    // the path from the root, with how far each task's upstream list has been walked
    const path: { name: string; next: number }[] = [{ name: root, next: 0 }]
    const onPath = new Map<string, number>([[root, 0]])
    state.set(root, 'visiting')
    while (path.length > 0) {
      const top = path[path.length - 1] as { name: string; next: number }
      const after = tasks.get(top.name)?.after ?? []
      if (top.next >= after.length) {
        path.pop()
        onPath.delete(top.name)
        state.set(top.name, 'done')
        continue
      }
      const dep = (after[top.next++] as ResolvedDependency).task
      const s = state.get(dep)
      if (s === 'visiting') {
        const cycle = [...path.slice(onPath.get(dep) as number).map((p) => p.name), dep]
        // edges point upstream; print the cycle in execution order
        return cycle.reverse()
      }
      if (s === undefined && tasks.has(dep)) {
        state.set(dep, 'visiting')
        onPath.set(dep, path.length)
        path.push({ name: dep, next: 0 })
      }
    }
  }
  return [...candidates]
}

/** `a -> b -> c -> a`, shortened in the middle when the cycle is long. */
function describeCycle(cycle: readonly string[]): string {
  const tasks = cycle.length - 1
  if (cycle.length <= 12) return cycle.join(' -> ')
  return `${cycle.slice(0, 5).join(' -> ')} -> … -> ${cycle.slice(-5).join(' -> ')} (a cycle of ${tasks} tasks)`
}
