/**
 * Resolution of a validated pipeline: defaults, units, dependency checks with did-you-mean, cycles
 * named by their path, and `when` conditions that may only look upstream.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import { DagError, type RpoError } from '../../../src/core/errors.js'

function dagErrorOf(yaml: string): RpoError {
  try {
    loadPipelineText('pipeline.yaml', yaml)
  } catch (error) {
    return error as RpoError
  }
  throw new Error('expected the pipeline to be rejected')
}

describe('defaults and units', () => {
  it('applies the built-in resource defaults to a bare task', () => {
    const { pipeline } = loadPipelineText('pipeline.yaml', 'name: demo\ntasks:\n  a: { command: x }\n')
    const task = pipeline.tasks[0]
    expect(task?.resources).toEqual({
      cpus: 1,
      memoryMb: 1024,
      timeLimitSeconds: 3600,
      gpus: null,
      nodes: 1,
      partition: null,
      qos: null,
    })
    expect(task?.retry).toMatchObject({ maxRetries: 0, backoffSeconds: 5, factor: 2, maxBackoffSeconds: 600 })
    expect(task?.after).toEqual([])
    expect(pipeline.importance).toBe(1)
  })

  it('merges pipeline defaults under task settings and converts units', () => {
    const { pipeline } = loadPipelineText(
      'pipeline.yaml',
      [
        'name: demo',
        'defaults:',
        '  resources: { cpus: 4, memory: 16G, time: 2h }',
        '  retries: 2',
        'tasks:',
        '  a:',
        '    command: x',
        '    resources: { time: 90m, gpus: { count: 2, type: [a100, h100], minMemory: 40G } }',
        '    retries: { max: 3, backoff: 30s, maxBackoff: 5m }',
        '    expected: 1h30m',
        '  b: { command: y }',
        '',
      ].join('\n'),
    )
    const [a, b] = pipeline.tasks
    expect(a?.resources).toMatchObject({ cpus: 4, memoryMb: 16384, timeLimitSeconds: 5400 })
    expect(a?.resources.gpus).toEqual({ count: 2, types: ['a100', 'h100'], minMemoryGb: 40 })
    expect(a?.retry).toMatchObject({ maxRetries: 3, backoffSeconds: 30, maxBackoffSeconds: 300 })
    expect(a?.expectedSeconds).toBe(5400)
    expect(b?.resources).toMatchObject({ cpus: 4, memoryMb: 16384, timeLimitSeconds: 7200, gpus: null })
    expect(b?.retry.maxRetries).toBe(2)
  })

  it('turns a script path into a quoted bash command relative to the pipeline file', () => {
    const dir = path.resolve('/tmp/my project')
    const { pipeline } = loadPipelineText(
      path.join(dir, 'pipeline.yaml'),
      'name: demo\ntasks:\n  a: { script: steps/run.sh }\n',
    )
    expect(pipeline.tasks[0]?.command).toBe(`bash '${dir}/steps/run.sh'`)
  })

  it('orders tasks upstream first, keeping declaration order for ties', () => {
    const { pipeline } = loadPipelineText(
      'pipeline.yaml',
      [
        'name: demo',
        'tasks:',
        '  report: { command: x, after: [evaluate, train] }',
        '  evaluate: { command: x, after: [train] }',
        '  train: { command: x, after: [prep] }',
        '  prep: { command: x }',
        '  lint: { command: x }',
        '',
      ].join('\n'),
    )
    expect(pipeline.tasks.map((t) => t.name)).toEqual(['prep', 'lint', 'train', 'evaluate', 'report'])
  })
})

describe('dependency errors', () => {
  it('names a two-task cycle as a path', () => {
    const error = dagErrorOf('name: demo\ntasks:\n  a: { command: x, after: [b] }\n  b: { command: x, after: [a] }\n')
    expect(error).toBeInstanceOf(DagError)
    expect(error.code).toBe('dag-cycle')
    expect(error.message).toMatch(/dependency cycle: (a -> b -> a|b -> a -> b)/)
  })

  it('names a three-task cycle as a path, leaving unrelated tasks out', () => {
    const error = dagErrorOf(
      [
        'name: demo',
        'tasks:',
        '  prep: { command: x }',
        '  train: { command: x, after: [prep, report] }',
        '  eval: { command: x, after: [train] }',
        '  report: { command: x, after: [eval] }',
        '',
      ].join('\n'),
    )
    expect(error.code).toBe('dag-cycle')
    const cycle = /dependency cycle: (.*)$/.exec(error.message)?.[1]?.split(' -> ') ?? []
    expect(cycle).toHaveLength(4)
    expect(cycle[0]).toBe(cycle[3])
    expect(new Set(cycle)).toEqual(new Set(['train', 'eval', 'report']))
    expect(error.message).toContain('train -> eval -> report -> train')
    expect(error.message).not.toContain('prep')
  })

  it('rejects a task that depends on itself', () => {
    const error = dagErrorOf('name: demo\ntasks:\n  a: { command: x, after: [a] }\n')
    expect(error).toBeInstanceOf(DagError)
    expect(error.message).toContain('tasks.a.after: a task cannot depend on itself')
  })

  it('rejects an unknown dependency with a did-you-mean', () => {
    const error = dagErrorOf(
      'name: demo\ntasks:\n  preprocess: { command: x }\n  train: { command: x, after: [preprocss] }\n',
    )
    expect(error).toBeInstanceOf(DagError)
    expect(error.code).toBe('dag-unknown-dependency')
    expect(error.message).toBe('tasks.train.after: unknown task "preprocss" (did you mean "preprocess"?)')
  })

  it('offers no suggestion when nothing is close', () => {
    const error = dagErrorOf(
      'name: demo\ntasks:\n  preprocess: { command: x }\n  train: { command: x, after: [zebra] }\n',
    )
    expect(error.message).toBe('tasks.train.after: unknown task "zebra"')
  })

  it('checks dependency objects with conditions and foreach sources too', () => {
    const error = dagErrorOf(
      [
        'name: demo',
        'tasks:',
        '  train: { command: x }',
        '  alert: { command: x, after: [{ task: trian, condition: failed }] }',
        '  each: { command: x, foreach: { task: lsit, output: files } }',
        '',
      ].join('\n'),
    )
    expect(error.code).toBe('dag-unknown-dependency')
    expect(error.message).toContain('tasks.alert.after: unknown task "trian" (did you mean "train"?)')
    expect(error.message).toContain('tasks.each.foreach.task: unknown task "lsit"')
  })

  it('requires a when condition to name an upstream listed in after', () => {
    const error = dagErrorOf(
      'name: demo\ntasks:\n  train: { command: x }\n  deploy: { command: x, when: [{ task: train, status: succeeded }] }\n',
    )
    expect(error.code).toBe('dag-unknown-dependency')
    expect(error.message).toContain('tasks.deploy.when[0]: "train" must also be listed in "after"')
  })

  it('accepts a when condition on a listed upstream', () => {
    const loaded = loadPipelineText(
      'pipeline.yaml',
      'name: demo\ntasks:\n  train: { command: x }\n  deploy: { command: x, after: [train], when: [{ task: train, output: acc, op: ">=", value: 0.9 }] }\n',
    )
    expect(loaded.pipeline.tasks[1]?.when).toEqual([{ task: 'train', output: 'acc', op: '>=', value: 0.9 }])
  })

  it('rejects an output condition on an upstream that fans out', () => {
    const error = dagErrorOf(
      'name: demo\ntasks:\n  train: { command: x, matrix: { lr: [1, 2] } }\n  deploy: { command: x, after: [train], when: [{ task: train, output: acc }] }\n',
    )
    expect(error.message).toContain('output conditions need a single-instance upstream; "train" fans out')
  })
})
