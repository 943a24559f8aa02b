/**
 * Fields a hostile or careless user can fill with something rpo would misuse later (issue #10):
 * placeholders that reach JavaScript internals, colliding RPO_PARAM_* names, environment names the
 * shell cannot export, unknown signals, deadlines that are not dates, a per-task cluster that is not a name.
 */
import { describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { pipelineRejection } from '../support/rejection.js'

const errorOf = pipelineRejection

const task = (body: string) => `name: demo\ntasks:\n  train:\n${body}`

describe('placeholders', () => {
  for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    it(`{{params.${key}}} is an unknown placeholder, not a JavaScript internal`, () => {
      const error = errorOf(task(`    command: "echo {{params.${key}}}"\n    matrix: { lr: [1, 2] }\n`))
      expect(error.code).toBe('spec-invalid')
      expect(error.message).toContain(
        `tasks.train.command: unknown placeholder {{params.${key}}}; this task's params are: lr`,
      )
    })
  }

  it('a misspelled param gets a did-you-mean', () => {
    const error = errorOf(task('    command: "echo {{params.seeed}}"\n    matrix: { seed: [1], lr: [2] }\n'))
    expect(error.message).toContain('unknown placeholder {{params.seeed}} (did you mean {{params.seed}}?)')
  })

  it('own params still substitute, quoted', () => {
    const loaded = loadPipelineText('p.yaml', task('    command: "echo {{params.lr}}"\n    matrix: { lr: [a b] }\n'))
    expect(loaded.instances[0]?.command).toBe("echo 'a b'")
  })

  it('a param only an include adds is known', () => {
    const loaded = loadPipelineText(
      'p.yaml',
      task('    command: "echo {{params.extra}}"\n    matrix: { include: [{ extra: x }] }\n'),
    )
    expect(loaded.instances.map((i) => i.command)).toEqual(['echo x'])
  })
})

describe('"__proto__" keys', () => {
  for (const [where, text] of [
    ['a matrix axis', task('    command: "true"\n    matrix: { __proto__: [1, 2] }\n')],
    ['an env var', task('    command: "true"\n    env: { __proto__: x }\n')],
    ['a task', 'name: demo\ntasks:\n  __proto__: { command: "true" }\n'],
  ] as const) {
    it(`as ${where} is refused, located, instead of vanishing`, () => {
      const error = errorOf(text)
      expect(error.code).toBe('spec-invalid')
      expect(error.message).toMatch(/pipeline\.yaml:\d+:\d+: the key "__proto__" is not allowed/)
    })
  }
})

describe('matrix keys that collide in RPO_PARAM_*', () => {
  it('a-b and a_b are refused, naming both keys', () => {
    const error = errorOf(task('    command: "true"\n    matrix: { a-b: [1], a_b: [2] }\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/tasks\.train\.matrix: keys "a-b" and "a_b" would both be exported as RPO_PARAM_A_B/)
  })

  it('lr and LR are refused', () => {
    const error = errorOf(task('    command: "true"\n    matrix: { lr: [1], include: [{ LR: 2 }] }\n'))
    expect(error.message).toContain('keys "lr" and "LR" would both be exported as RPO_PARAM_LR')
  })
})

describe('environment variable names', () => {
  for (const bad of ['A B', 'A=B', '1A', '']) {
    it(`env name ${JSON.stringify(bad)} is refused`, () => {
      const error = errorOf(task(`    command: "true"\n    env: { "${bad}": x }\n`))
      expect(error.code).toBe('spec-invalid')
      expect(error.message).toMatch(
        /pipeline\.yaml:5:\d+: tasks\.train\.env\.[^:]*: invalid key: .*\[A-Za-z_\]\[A-Za-z0-9_\]\*/,
      )
    })
  }

  it('pipeline-level and default env names are checked too', () => {
    const error = errorOf(
      'name: demo\nenv: { "A B": x }\ndefaults: { env: { "C=D": y } }\ntasks:\n  a: { command: "true" }\n',
    )
    expect(error.message).toMatch(/pipeline\.yaml:2:\d+: env\.A B: invalid key/)
    expect(error.message).toMatch(/pipeline\.yaml:3:\d+: defaults\.env\.C=D: invalid key/)
  })

  it('ordinary names pass', () => {
    const loaded = loadPipelineText('p.yaml', task('    command: "true"\n    env: { _A1: x, CUDA_HOME: y }\n'))
    expect(loaded.pipeline.tasks[0]?.env).toEqual({ _A1: 'x', CUDA_HOME: 'y' })
  })
})

describe('checkpoint signal', () => {
  it('"SIG" alone is refused, listing the signals', () => {
    const error = errorOf(task('    command: "true"\n    checkpoint: { signal: SIG }\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/tasks\.train\.checkpoint\.signal: expected a signal the job can catch: USR2, USR1/)
  })

  it('a signal that cannot be caught is refused', () => {
    expect(errorOf(task('    command: "true"\n    checkpoint: { signal: SIGKILL }\n')).message).toContain(
      'tasks.train.checkpoint.signal',
    )
  })

  it('known names pass with or without SIG', () => {
    for (const [written, resolved] of [
      ['SIGUSR1', 'USR1'],
      ['TERM', 'TERM'],
      ['SIGHUP', 'HUP'],
    ]) {
      const loaded = loadPipelineText('p.yaml', task(`    command: "true"\n    checkpoint: { signal: ${written} }\n`))
      expect(loaded.pipeline.tasks[0]?.checkpoint?.signal).toBe(resolved)
    }
  })
})

describe('deadlines', () => {
  it('"not a date" is refused with the expected shape', () => {
    const error = errorOf('name: demo\ndeadline: not a date\ntasks:\n  a: { command: "true" }\n')
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/pipeline\.yaml:2:11: deadline: expected an ISO 8601 date-time with a time zone/)
  })

  for (const bad of ['2026-12-31', '2026-12-31T18:00:00', '2026-02-30T00:00:00Z', '2026-12-31T25:00:00Z']) {
    it(`${bad} is refused`, () => {
      expect(errorOf(`name: demo\ndeadline: "${bad}"\ntasks:\n  a: { command: "true" }\n`).message).toContain(
        'deadline: expected an ISO 8601 date-time',
      )
    })
  }

  it('date-times with Z or an offset pass', () => {
    for (const ok of ['2026-12-31T18:00:00Z', '2026-12-31T18:00:00.250+01:00', '2026-12-31T18:00Z']) {
      const loaded = loadPipelineText('p.yaml', `name: demo\ndeadline: "${ok}"\ntasks:\n  a: { command: "true" }\n`)
      expect(loaded.pipeline.deadline).toBe(ok)
    }
  })
})

describe('per-task cluster', () => {
  it("is carried into the task's definition; a task without one runs on the pipeline's cluster", () => {
    const loaded = loadPipelineText(
      'pipeline.yaml',
      `name: demo\ncluster: cpu\ntasks:\n  prep: { command: "true" }\n  train: { command: "true", after: [prep], cluster: gpu }\n`,
    )
    expect(loaded.pipeline.cluster).toBe('cpu')
    expect(loaded.pipeline.tasks.map((t) => [t.name, t.cluster])).toEqual([
      ['prep', null],
      ['train', 'gpu'],
    ])
  })

  it('must be a cluster name', () => {
    const error = errorOf(task('    command: "true"\n    cluster: "gpu cluster"\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toContain(
      "pipeline.yaml:5:14: tasks.train.cluster: expected a cluster name made of letters, digits, '_' and '-'",
    )
  })
})
