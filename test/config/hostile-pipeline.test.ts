/**
 * Pipeline files written to break rpo (issue #10): each is refused at load time with a typed,
 * located error that says what is wrong and what the limit is; none crashes, hangs or exhausts memory.
 */
import { describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { pipelineRejection } from '../support/rejection.js'

const errorOf = pipelineRejection

const task = (body: string) => `name: demo\ntasks:\n  train:\n    command: "true"\n${body}`

describe('YAML that attacks the parser', () => {
  it('an alias bomb (billion laughs) is refused as unparsable, with a line', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries()) {
      const previous = 'abcdefg'[i] as string
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`)
    }
    const error = errorOf(`name: x\nmetadata:\n  ${levels.join('\n  ')}\ntasks:\n  a: { command: "true" }\n`)
    expect(error.code).toBe('spec-unparsable')
    expect(error.message).toMatch(/pipeline\.yaml:\d+:\d+: not valid YAML\/JSON: .*alias/i)
  })

  it('an alias to an undefined anchor is refused with its line', () => {
    const error = errorOf('name: x\ntasks:\n  a: { command: *nope }\n')
    expect(error.code).toBe('spec-unparsable')
    expect(error.message).toMatch(/pipeline\.yaml:3:\d+: not valid YAML\/JSON: .*nope/)
  })

  it('a duplicate key among thousands of tasks is still found, with its line', () => {
    const lines = ['name: x', 'tasks:']
    for (let i = 0; i < 5000; i++) lines.push(`  t${i}: { command: "true" }`)
    lines.push('  t42: { command: "false" }')
    const error = errorOf(lines.join('\n'))
    expect(error.code).toBe('spec-unparsable')
    expect(error.message).toMatch(/pipeline\.yaml:5003:3: not valid YAML\/JSON: Map keys must be unique/)
  })
})

describe('dependency graphs that attack the validator', () => {
  it('a cycle through a 10,000-task chain is named, without overflowing the stack', () => {
    const lines = ['name: x', 'tasks:']
    const n = 10_000
    for (let i = 0; i < n; i++) lines.push(`  t${i}: { command: "true", after: [t${(i + n - 1) % n}] }`)
    const error = errorOf(lines.join('\n'))
    expect(error.code).toBe('dag-cycle')
    expect(error.message).toMatch(/^dependency cycle: t\d+ -> t\d+ -> /)
    // a cycle of 10,000 is not printed in full
    expect(error.message.length).toBeLessThan(2000)
    expect(error.message).toContain('10000 tasks')
  })

  it('10,000 misspelled dependencies are all listed; the first ones with a did-you-mean', { timeout: 60_000 }, () => {
    const lines = ['name: x', 'tasks:']
    for (let i = 0; i < 10_000; i++) lines.push(`  task${i}: { command: "true", after: [tsak${i}] }`)
    const error = errorOf(lines.join('\n'))
    expect(error.code).toBe('dag-unknown-dependency')
    expect(error.message.split('\n')).toHaveLength(10_000)
    expect(error.message).toContain('tasks.task0.after: unknown task "tsak0" (did you mean "task0"?)')
  })

  it('a 50,000-task chain loads', { timeout: 120_000 }, () => {
    const lines = ['name: x', 'tasks:', '  t0: { command: "true" }']
    for (let i = 1; i < 50_000; i++) lines.push(`  t${i}: { command: "true", after: [t${i - 1}] }`)
    const loaded = loadPipelineText('chain.yaml', lines.join('\n'))
    expect(loaded.instances).toHaveLength(50_000)
    expect(loaded.pipeline.tasks.at(-1)?.name).toBe('t49999')
  })
})

describe('sweeps too large to build', () => {
  it('a task whose matrix would make more than 10,000 instances is refused with the count', () => {
    const axes = Array.from({ length: 5 }, (_, k) => `      k${k}: [0,1,2,3,4,5,6,7,8,9]`)
    const error = errorOf(task(`    matrix:\n${axes.join('\n')}\n`))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toContain('tasks.train.matrix: would make 100000 task instances')
    expect(error.message).toContain('at most 10000 per task')
  })

  it('a 300-byte file with ten axes of ten values is refused before anything is built', () => {
    const axes = Array.from({ length: 10 }, (_, k) => `      k${k}: [0,1,2,3,4,5,6,7,8,9]`)
    const error = errorOf(task(`    matrix:\n${axes.join('\n')}\n`))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toContain('would make 10000000000 task instances')
    // one problem, on the task: the pipeline total would only repeat it
    expect(error.message.split('\n')).toHaveLength(1)
  })

  it('sweeps that fit per task but not together are refused with the pipeline total', () => {
    const lines = ['name: x', 'tasks:']
    for (let t = 0; t < 11; t++) {
      lines.push(
        `  s${t}:`,
        '    command: "true"',
        `    matrix: { a: [${Array.from({ length: 10_000 }, (_, i) => i)}] }`,
      )
    }
    const error = errorOf(lines.join('\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toContain('110000 task instances')
    expect(error.message).toContain('at most 100000 per pipeline')
  })
})

describe('names that break job folders and scheduler names', () => {
  const long = 'a'.repeat(250)

  it('a 250-character task name is refused, saying the limit', () => {
    const error = errorOf(`name: demo\ntasks:\n  ${long}: { command: "true" }\n`)
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/pipeline\.yaml:3:\d+: tasks\.a+: invalid key: .*too long: at most 64 characters/)
  })

  it('a 250-character pipeline or project name is refused', () => {
    const error = errorOf(`name: ${long}\nproject: ${long}\ntasks:\n  a: { command: "true" }\n`)
    expect(error.message).toMatch(/pipeline\.yaml:1:7: name: .*at most 64 characters/)
    expect(error.message).toMatch(/pipeline\.yaml:2:10: project: .*at most 64 characters/)
  })

  it('a 64-character task name with a sweep still loads', () => {
    const name = 'b'.repeat(64)
    const loaded = loadPipelineText(
      'p.yaml',
      `name: demo\ntasks:\n  ${name}: { command: "true", matrix: { a: [1, 2] } }\n`,
    )
    expect(loaded.instances.map((i) => i.id)).toEqual([`${name}.0`, `${name}.1`])
  })
})

describe('time limits', () => {
  it('a zero time limit is refused', () => {
    const error = errorOf(task('    resources: { time: 0 }\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/pipeline\.yaml:5:24: tasks\.train\.resources\.time: .*longer than zero/)
  })

  it('a zero default time limit is refused too', () => {
    const error = errorOf(`name: demo\ndefaults: { resources: { time: 0s } }\ntasks:\n  a: { command: "true" }\n`)
    expect(error.message).toContain('defaults.resources.time')
  })

  it('an absurd time limit is refused, saying the maximum', () => {
    const error = errorOf(task('    resources: { time: 99999999999999999999999d }\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/tasks\.train\.resources\.time: .*at most 365 days/)
  })

  it('365 days is accepted', () => {
    const loaded = loadPipelineText('p.yaml', task('    resources: { time: 365d }\n'))
    expect(loaded.pipeline.tasks[0]?.resources.timeLimitSeconds).toBe(365 * 86_400)
  })

  it('absurd backoffs and expected durations are refused', () => {
    const error = errorOf(task('    expected: 1e30\n    retries: { max: 1, backoff: 999999999d }\n'))
    expect(error.message).toContain('tasks.train.expected')
    expect(error.message).toContain('tasks.train.retries.backoff')
  })
})

describe('values no shell can carry', () => {
  it('a NUL character in a matrix value is refused where it is, not reported as a dependency problem', () => {
    const error = errorOf('name: x\ntasks:\n  a:\n    matrix: { v: ["a\\0b"] }\n    command: echo {{params.v}}\n')
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/pipeline\.yaml:4:\d+: a NUL character/)
  })
})

describe('nesting', () => {
  it('a document nested deeper than any schema needs is refused with its line, not a stack overflow', () => {
    const deep = (n: number) =>
      `name: x\nmetadata: { v: ${'['.repeat(n)}${']'.repeat(n)} }\ntasks:\n  a: { command: "true" }\n`
    for (const depth of [300, 100_000]) {
      const error = errorOf(deep(depth))
      expect(error.code).toBe('spec-unparsable')
      expect(error.message).toMatch(
        /pipeline\.yaml:2:\d+: not valid YAML\/JSON: nested (more than 200 levels deep|too deeply)/,
      )
    }
  })
})
