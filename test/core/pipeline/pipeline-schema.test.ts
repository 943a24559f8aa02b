/**
 * What a researcher sees when a pipeline file is wrong: every problem located by file:line:col and
 * dotted path, with what was expected, what was found, and a did-you-mean for misspelled keys.
 */
import { describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import { type RpoError, SpecError } from '../../../src/core/errors.js'

function errorOf(text: string, file = 'pipeline.yaml'): RpoError {
  try {
    loadPipelineText(file, text)
  } catch (error) {
    return error as RpoError
  }
  throw new Error('expected the pipeline to be rejected')
}

describe('located validation errors', () => {
  it('names file:line:col, the dotted path and the offending value for a wrong GPU count', () => {
    const error = errorOf(
      [
        'name: demo',
        'tasks:',
        '  train:',
        '    command: python train.py',
        '    resources:',
        '      gpus:',
        '        count: two',
        '',
      ].join('\n'),
    )
    expect(error).toBeInstanceOf(SpecError)
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(
      /pipeline\.yaml:7:16: tasks\.train\.resources\.gpus\.count: expected a positive integer, got "two"$/,
    )
  })

  it('lists every problem, not only the first', () => {
    const error = errorOf(
      [
        'name: demo',
        'tasks:',
        '  a:',
        '    command: x',
        '    resources: { cpus: 0, memory: 12Q, time: soon }',
        '',
      ].join('\n'),
    ) as SpecError
    const paths = error.issues.map((issue) => issue.path)
    expect(paths).toEqual(
      expect.arrayContaining(['tasks.a.resources.cpus', 'tasks.a.resources.memory', 'tasks.a.resources.time']),
    )
    expect(error.message).toContain('expected a memory size such as 512M, 16G or 1.5T')
    expect(error.message).toContain('expected a duration such as 90s, 15m, 2h30m or 01:30:00')
    for (const issue of error.issues) expect(issue.file).toMatch(/pipeline\.yaml:5:\d+$/)
  })

  it('suggests "cpus" for an unknown resources key "cpuz"', () => {
    const error = errorOf(
      ['name: demo', 'tasks:', '  train:', '    command: x', '    resources:', '      cpuz: 4', ''].join('\n'),
    )
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(
      /pipeline\.yaml:6:\d+: tasks\.train\.resources\.cpuz: unknown key "cpuz" \(did you mean "cpus"\?\)/,
    )
  })

  it('suggests "tasks" for a misspelled top-level "taks"', () => {
    const error = errorOf(['name: demo', 'taks:', '  train: { command: x }', ''].join('\n'))
    expect(error).toBeInstanceOf(SpecError)
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toContain('unknown key "taks" (did you mean "tasks"?)')
  })

  it('reports a missing required field as required, with its path', () => {
    const error = errorOf(['tasks:', '  train: { command: x }', ''].join('\n')) as SpecError
    expect(error).toBeInstanceOf(SpecError)
    expect(error.issues.map((issue) => issue.path)).toContain('name')
    expect(error.message).toMatch(/name: required/)
  })

  it('rejects an invalid task name with the accepted characters', () => {
    const error = errorOf(['name: demo', 'tasks:', '  "bad name!": { command: x }', ''].join('\n'))
    expect(error.message).toContain("letters, digits, '_' and '-'")
  })

  it('requires exactly one of command and script on a task', () => {
    const error = errorOf(
      [
        'name: demo',
        'tasks:',
        '  both: { command: x, script: run.sh }',
        '  neither: { description: nothing to run }',
        '',
      ].join('\n'),
    ) as SpecError
    expect(error.issues).toHaveLength(2)
    expect(error.message).toMatch(/pipeline\.yaml:3:\d+: tasks\.both: expected exactly one of "command" or "script"/)
    expect(error.message).toMatch(/pipeline\.yaml:4:\d+: tasks\.neither: expected exactly one of "command" or "script"/)
  })

  it('rejects matrix and foreach on the same task', () => {
    const error = errorOf(
      [
        'name: demo',
        'tasks:',
        '  list: { command: x }',
        '  each: { command: y, matrix: { a: [1] }, foreach: { task: list, output: files } }',
        '',
      ].join('\n'),
    )
    expect(error.message).toContain('"matrix" and "foreach" cannot be combined')
  })

  it('rejects an empty task map', () => {
    expect(errorOf('name: demo\ntasks: {}\n').message).toContain('expected at least one task')
  })
})

describe('unparsable files', () => {
  it('gives SpecError spec-unparsable with the line of a YAML syntax error', () => {
    const error = errorOf(
      ['name: demo', 'tasks:', '  a: { command: x }', '  a: { command: y }', ''].join('\n'),
    ) as SpecError
    expect(error).toBeInstanceOf(SpecError)
    expect(error.code).toBe('spec-unparsable')
    expect(error.message).toMatch(/pipeline\.yaml:4:3: not valid YAML\/JSON: Map keys must be unique/)
  })

  it('gives the line of a broken flow mapping', () => {
    const error = errorOf(['name: demo', 'tasks:', '  a: { command: x', ''].join('\n')) as SpecError
    expect(error.code).toBe('spec-unparsable')
    expect(error.issues[0]?.file).toMatch(/pipeline\.yaml:\d+:\d+$/)
  })

  it('gives the line of a JSON syntax error', () => {
    const error = errorOf('{"name": "demo",\n "tasks": {\n   "a": {"command": "x"},,\n }}\n', 'pipeline.json')
    expect(error.code).toBe('spec-unparsable')
    expect(error.message).toMatch(/pipeline\.json:3:\d+: not valid YAML\/JSON/)
  })
})

describe('JSON pipelines', () => {
  it('load like YAML ones', () => {
    const json = JSON.stringify(
      {
        name: 'demo',
        tasks: {
          prep: { command: 'python prep.py' },
          train: { command: 'python train.py --lr {{params.lr}}', after: ['prep'], matrix: { lr: [0.1, 0.01] } },
        },
      },
      null,
      2,
    )
    const loaded = loadPipelineText('pipeline.json', json)
    expect(loaded.instances.map((i) => i.id)).toEqual(['prep', 'train.0', 'train.1'])
    expect(loaded.instances[2]?.command).toBe('python train.py --lr 0.01')
  })

  it('locate validation errors by line in JSON too', () => {
    const json =
      '{\n  "name": "demo",\n  "tasks": {\n    "a": { "command": "x", "resources": { "gpus": -1 } }\n  }\n}\n'
    const error = errorOf(json, 'pipeline.json')
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/pipeline\.json:4:\d+: tasks\.a\.resources\.gpus: .*got -1/)
  })
})

describe('spec hash', () => {
  it('is the same for the same content whatever the key order, and changes with the content', () => {
    const a = loadPipelineText('p.yaml', 'name: demo\ntasks:\n  a: { command: x, description: d }\n')
    const b = loadPipelineText('p.yaml', 'tasks:\n  a: { description: d, command: x }\nname: demo\n')
    const c = loadPipelineText('p.yaml', 'name: demo\ntasks:\n  a: { command: y, description: d }\n')
    expect(a.specHash).toBe(b.specHash)
    expect(a.specHash).not.toBe(c.specHash)
  })
})
