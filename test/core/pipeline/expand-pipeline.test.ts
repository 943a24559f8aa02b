/**
 * Expansion of a pipeline into task instances: matrix sweeps (with include/exclude), quoted
 * parameter substitution that survives hostile values, foreach templates, and a large sweep.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import { SpecError } from '../../../src/core/errors.js'
import { expandForeach, matrixCombinations } from '../../../src/core/pipeline/expand-pipeline.js'

const load = (yaml: string) => loadPipelineText('pipeline.yaml', yaml)

describe('matrix sweeps', () => {
  it('expands a 2×2 matrix into four numbered instances with their params', () => {
    const { instances } = load(
      'name: demo\ntasks:\n  train:\n    command: train --lr {{params.lr}} --bs {{params.bs}}\n    matrix: { lr: [0.1, 0.01], bs: [32, 64] }\n',
    )
    expect(instances.map((i) => [i.id, i.group, i.params])).toEqual([
      ['train.0', 'train', { lr: 0.1, bs: 32 }],
      ['train.1', 'train', { lr: 0.1, bs: 64 }],
      ['train.2', 'train', { lr: 0.01, bs: 32 }],
      ['train.3', 'train', { lr: 0.01, bs: 64 }],
    ])
    expect(instances[3]?.command).toBe('train --lr 0.01 --bs 64')
    expect(instances.every((i) => i.kind === 'task')).toBe(true)
  })

  it('leaves out excluded combinations (partial match) and appends included ones', () => {
    const { instances } = load(
      [
        'name: demo',
        'tasks:',
        '  train:',
        '    command: train {{params.lr}} {{params.bs}}',
        '    matrix:',
        '      lr: [0.1, 0.01]',
        '      bs: [32, 64]',
        '      exclude: [{ lr: 0.01, bs: 64 }]',
        '      include: [{ lr: 0.001, bs: 128 }, { lr: 0.1, bs: 32 }]',
        '',
      ].join('\n'),
    )
    expect(instances.map((i) => [i.id, i.params])).toEqual([
      ['train.0', { lr: 0.1, bs: 32 }],
      ['train.1', { lr: 0.1, bs: 64 }],
      ['train.2', { lr: 0.01, bs: 32 }],
      ['train.3', { lr: 0.001, bs: 128 }],
    ])
  })

  it('excludes every combination matching a partial entry', () => {
    const combos = matrixCombinations({ axes: { lr: [1, 2], bs: [3, 4] }, include: [], exclude: [{ lr: 1 }] })
    expect(combos).toEqual([
      { lr: 2, bs: 3 },
      { lr: 2, bs: 4 },
    ])
  })

  it('rejects a matrix whose every combination is excluded', () => {
    expect(() =>
      load('name: demo\ntasks:\n  t:\n    command: x\n    matrix: { a: [1], exclude: [{ a: 1 }] }\n'),
    ).toThrow(/tasks\.t\.matrix: every combination is excluded/)
  })

  it('rejects an empty axis at validation', () => {
    expect(() => load('name: demo\ntasks:\n  t:\n    command: x\n    matrix: { a: [] }\n')).toThrow(
      /expected a non-empty list of values/,
    )
  })

  it('numbers instances so that train.2 sorts before train.10 for users', () => {
    const { instances } = load(
      'name: demo\ntasks:\n  t:\n    command: x {{params.i}}\n    matrix: { i: [0,1,2,3,4,5,6,7,8,9,10,11] }\n',
    )
    expect(instances.map((i) => i.id).slice(-3)).toEqual(['t.9', 't.10', 't.11'])
  })
})

describe('parameter substitution', () => {
  const hostile = ['0.1; rm -rf ~', '$(whoami)', '`id`', "it's", 'a b\tc', '"; echo pwned', '$HOME', '*']

  it('shell-quotes hostile values so bash receives them literally', () => {
    const yaml = `name: demo\ntasks:\n  t:\n    command: printf '%s\\n' {{params.v}}\n    matrix:\n      v: ${JSON.stringify(hostile)}\n`
    const { instances } = load(yaml)
    expect(instances).toHaveLength(hostile.length)
    for (const [index, instance] of instances.entries()) {
      expect(instance.command).not.toContain('{{')
      const printed = execFileSync('bash', ['-c', instance.command], { encoding: 'utf8' })
      expect(printed).toBe(`${hostile[index]}\n`)
    }
    expect(instances[0]?.command).toBe("printf '%s\\n' '0.1; rm -rf ~'")
  })

  it('leaves safe values unquoted', () => {
    const { instances } = load(
      'name: demo\ntasks:\n  t:\n    command: run --model={{params.m}}\n    matrix: { m: [resnet-50, true] }\n',
    )
    expect(instances.map((i) => i.command)).toEqual(['run --model=resnet-50', 'run --model=true'])
  })

  it('rejects params placeholders on a task without a matrix', () => {
    expect(() => load('name: demo\ntasks:\n  t: { command: "echo {{params.lr}}" }\n')).toThrow(
      'tasks.t.command: unknown placeholder {{params.lr}}: only tasks with a "matrix" have params',
    )
  })

  it('rejects unknown placeholders and params not in the matrix', () => {
    let caught: unknown
    try {
      load(
        'name: demo\ntasks:\n  t:\n    command: "echo {{params.lr}} {{params.momentum}}"\n    matrix: { lr: [1] }\n  u: { command: "echo {{env.HOME}}" }\n',
      )
    } catch (error) {
      caught = error
    }
    // found by validation, so located in the file like any other schema problem
    expect(caught).toBeInstanceOf(SpecError)
    expect((caught as SpecError).message).toMatch(
      /:4:\d+: tasks\.t\.command: unknown placeholder \{\{params\.momentum\}\}/,
    )
    expect((caught as SpecError).message).toContain('tasks.u.command: unknown placeholder {{env.HOME}}')
  })

  it('rejects {{item}} outside a foreach task', () => {
    expect(() => load('name: demo\ntasks:\n  t: { command: "echo {{item}}" }\n')).toThrow(
      /only "foreach" tasks have an item/,
    )
  })
})

describe('foreach', () => {
  const yaml = [
    'name: demo',
    'tasks:',
    '  list: { command: ls }',
    '  each:',
    '    command: process {{item.path}} --size {{item.size}}',
    '    foreach: { task: list, output: files }',
    '',
  ].join('\n')

  it('keeps a foreach task as one template that depends on its source', () => {
    const { instances, pipeline } = load(yaml)
    expect(instances.map((i) => [i.id, i.kind])).toEqual([
      ['list', 'task'],
      ['each', 'foreach-template'],
    ])
    expect(pipeline.tasks[1]?.after).toEqual([{ task: 'list', condition: 'succeeded' }])
  })

  it('expands into one quoted instance per item once the list is known', () => {
    const { pipeline } = load(yaml)
    const template = pipeline.tasks[1]!
    const instances = expandForeach(template, [
      { path: 'a.txt', size: 1 },
      { path: 'my file; rm x', size: 2 },
    ])
    expect(instances.map((i) => [i.id, i.group, i.kind, i.command])).toEqual([
      ['each.0', 'each', 'task', 'process a.txt --size 1'],
      ['each.1', 'each', 'task', "process 'my file; rm x' --size 2"],
    ])
    expect(instances[1]?.item).toEqual({ path: 'my file; rm x', size: 2 })
  })

  it('refuses an item that lacks a referenced field', () => {
    const template = load(yaml).pipeline.tasks[1]!
    expect(() => expandForeach(template, [{ size: 1 }])).toThrow(/\{\{item\.path\}\} is not in the item/)
  })

  it('expands an empty list into no instances', () => {
    expect(expandForeach(load(yaml).pipeline.tasks[1]!, [])).toEqual([])
  })
})

describe('scale', () => {
  it('validates and expands a 5,000-task pipeline (50 groups × 100-way matrix)', () => {
    const tasks: Record<string, unknown> = {}
    for (let g = 0; g < 50; g++) {
      tasks[`sweep${g}`] = {
        command: 'python train.py --lr {{params.lr}} --seed {{params.seed}}',
        matrix: {
          lr: [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001, 3e-5, 1e-5, 3e-6],
          seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        },
        resources: { cpus: 2, memory: '8G', time: '2h' },
        ...(g > 0 ? { after: [`sweep${g - 1}`] } : {}),
      }
    }
    const text = JSON.stringify({ name: 'big', tasks }, null, 2)
    const started = performance.now()
    const loaded = loadPipelineText('big.json', text)
    const elapsedMs = performance.now() - started
    console.log(`5,000-task pipeline: validated + resolved + expanded in ${elapsedMs.toFixed(0)} ms`)
    expect(loaded.instances).toHaveLength(5000)
    expect(new Set(loaded.instances.map((i) => i.id)).size).toBe(5000)
    expect(loaded.instances[4999]?.id).toBe('sweep49.99')
    expect(loaded.instances[4999]?.command).toBe('python train.py --lr 0.000003 --seed 9')
    expect(elapsedMs).toBeLessThan(5000)
  })
})
