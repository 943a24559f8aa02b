// Features decided at run time, end to end on the local executor: fan-out over an upstream's list,
// conditions on upstream outputs, GPU slots, parallelism within declared resources.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 4, memory: 8G, gpus: [{ type: a100, count: 2 }, { type: v100, count: 1 }], killGrace: 200ms, pollInterval: 50ms }
`

async function run(pipeline: string): Promise<{
  dir: string
  code: number
  tasks: Record<string, { state: string; reason: string | null; attempt: number }>
}> {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  writePipeline(dir, 'pipeline.yaml', pipeline)
  const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
  const progress = JSON.parse(result.stdout)
  return { dir, code: result.code, tasks: Object.fromEntries(progress.tasks.map((t: { id: string }) => [t.id, t])) }
}

/** How many tasks ran at once at most, from `start <ns>` / `end <ns>` lines the tasks appended. */
function peakConcurrency(file: string): { events: number; peak: number } {
  const events = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([kind, t]) => ({ delta: kind === 'start' ? 1 : -1, t: BigInt(t as string) }))
    .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.delta - b.delta))
  let running = 0
  let peak = 0
  for (const e of events) {
    running += e.delta
    peak = Math.max(peak, running)
  }
  return { events: events.length, peak }
}

describe('foreach fan-out', () => {
  it('runs one task per element of the list an upstream wrote, then joins', async () => {
    const { dir, code, tasks } = await run(`
name: fan
tasks:
  split:
    command: |
      echo '{"shards": ["a", "b c", {"n": 3}]}' > "$RPO_OUTPUTS"
  process:
    foreach: { task: split, output: shards }
    command: printf '%s\\n' {{item}} >> items.log; echo "$RPO_ITEM" >> env.log
  join:
    after: [process]
    command: echo joined > join.out
`)
    expect(code).toBe(0)
    expect(Object.keys(tasks).sort()).toEqual(['join', 'process.0', 'process.1', 'process.2', 'split'])
    expect(readFileSync(path.join(dir, 'items.log'), 'utf8').trim().split('\n').sort()).toEqual(['a', 'b c', '{"n":3}'])
    expect(readFileSync(path.join(dir, 'join.out'), 'utf8')).toBe('joined\n')
  })

  it('fails the fan-out with a clear reason when the upstream wrote no list', async () => {
    const { code, tasks } = await run(`
name: fan
tasks:
  split: { command: "echo '{\\"shards\\": 3}' > $RPO_OUTPUTS" }
  process: { foreach: { task: split, output: shards }, command: "true" }
`)
    expect(code).toBe(1)
    expect(tasks.process?.state).toBe('failed')
    expect(tasks.process?.reason).toContain('split did not write a list under "shards"')
  })

  it('fails a task whose $RPO_OUTPUTS is not JSON, naming the file', async () => {
    const { code, tasks } = await run(`
name: bad-outputs
tasks:
  a: { command: "echo not-json > $RPO_OUTPUTS" }
`)
    expect(code).toBe(1)
    expect(tasks.a?.reason).toMatch(/\$RPO_OUTPUTS \(.*outputs\.json\) is not valid JSON/)
  })
})

describe('when conditions', () => {
  it('skips a task whose condition on an upstream output does not hold, saying why', async () => {
    const { code, tasks } = await run(`
name: gate
tasks:
  evaluate: { command: "echo '{\\"accuracy\\": 0.71}' > $RPO_OUTPUTS" }
  deploy:
    after: [evaluate]
    when: [{ task: evaluate, output: accuracy, op: ">=", value: 0.9 }]
    command: "touch deployed"
  retrain:
    after: [evaluate]
    when: [{ task: evaluate, output: accuracy, op: "<", value: 0.9 }]
    command: "true"
  notify:
    after: [deploy]
    command: "true"
`)
    expect(code).toBe(0)
    expect(tasks.deploy).toMatchObject({ state: 'skipped' })
    expect(tasks.deploy?.reason).toBe('when: evaluate.accuracy >= 0.9 — got 0.71')
    expect(tasks.retrain?.state).toBe('succeeded')
    expect(tasks.notify).toMatchObject({ state: 'skipped', reason: 'upstream deploy was skipped' })
  })

  it('runs a failure handler only when its upstream failed', async () => {
    const { code, tasks } = await run(`
name: handler
tasks:
  train: { command: "exit 1" }
  alert: { after: [{ task: train, condition: failed }], command: "true" }
  cleanup: { after: [{ task: train, condition: finished }], command: "true" }
`)
    expect(code).toBe(1)
    expect(tasks.alert?.state).toBe('succeeded')
    expect(tasks.cleanup?.state).toBe('succeeded')
  })
})

describe('local resources', () => {
  it('hands out distinct GPUs of the requested type and never more than exist', async () => {
    const { dir, code } = await run(`
name: gpus
tasks:
  train:
    matrix: { seed: [1, 2, 3, 4] }
    resources: { gpus: { count: 1, type: a100 } }
    command: echo "$CUDA_VISIBLE_DEVICES $(date +%s%N)" >> gpu.log; sleep 0.5; echo "end $CUDA_VISIBLE_DEVICES $(date +%s%N)" >> gpu.log
  any:
    resources: { gpus: 1 }
    command: echo "any $CUDA_VISIBLE_DEVICES" >> any.log
`)
    expect(code).toBe(0)
    const lines = readFileSync(path.join(dir, 'gpu.log'), 'utf8').trim().split('\n')
    const starts = lines.filter((l) => !l.startsWith('end')).map((l) => l.split(' ')[0])
    expect(starts).toHaveLength(4)
    expect(new Set(starts)).toEqual(new Set(['0', '1']))
    // at no moment do two tasks hold the same device
    const events = lines
      .map((l) => l.split(' '))
      .map((p) =>
        p[0] === 'end'
          ? { t: BigInt(p[2] as string), d: p[1], delta: -1 }
          : { t: BigInt(p[1] as string), d: p[0], delta: 1 },
      )
      .sort((a, b) => (a.t < b.t ? -1 : 1))
    const held = new Map<string, number>()
    for (const e of events) {
      held.set(e.d as string, (held.get(e.d as string) ?? 0) + e.delta)
      expect(held.get(e.d as string)).toBeLessThanOrEqual(1)
    }
    expect(readFileSync(path.join(dir, 'any.log'), 'utf8')).toMatch(/^any [012]\n$/)
  })

  it('runs independent tasks in parallel up to the CPU count', async () => {
    const { dir, code } = await run(`
name: par
tasks:
  w:
    matrix: { i: [1, 2, 3, 4, 5, 6] }
    resources: { cpus: 2 }
    command: echo "start $(date +%s%N)" >> par.log; sleep 0.4; echo "end $(date +%s%N)" >> par.log
`)
    expect(code).toBe(0)
    const { events, peak } = peakConcurrency(path.join(dir, 'par.log'))
    expect(events).toBe(12)
    // 4 CPUs / 2 per task: two at a time, and never more
    expect(peak).toBe(2)
  })
})

describe('maxParallel on the local executor', () => {
  it('keeps at most maxParallel instances of a sweep running, whatever the free CPUs', async () => {
    const { dir, code } = await run(`
name: throttled
tasks:
  w:
    matrix: { i: [1, 2, 3, 4] }
    maxParallel: 1
    command: echo "start $(date +%s%N)" >> par.log; sleep 0.3; echo "end $(date +%s%N)" >> par.log
`)
    expect(code).toBe(0)
    const { events, peak } = peakConcurrency(path.join(dir, 'par.log'))
    expect(events).toBe(8)
    expect(peak).toBe(1)
  })
})
