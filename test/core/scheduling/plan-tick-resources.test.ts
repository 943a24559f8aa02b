/**
 * The tick planner's guarantees beyond the happy path: capacity and GPU types, lost jobs (missing
 * is never success), reconciliation of attempts written before a crash, stopped runs, determinism,
 * purity, and a 10,000-task snapshot.
 */
import { describe, expect, it } from 'vitest'
import { planTick } from '../../../src/core/scheduling/plan-tick.js'
import type { Capacity, RunSnapshot, TaskSnapshot } from '../../../src/core/scheduling/run-snapshot.js'
import {
  attemptOf,
  deepFreeze,
  defaultOptions,
  PlanDriver,
  pipelineOf,
  snapshotOf,
  submittedIds,
  T0,
} from '../../support/fixtures.js'

const capacity = (cpus: number, gpus: Record<string, number> = {}, memoryMb = 1_000_000): Capacity => ({
  cpus,
  memoryMb,
  gpus,
})

describe('capacity', () => {
  const FOUR = 'name: demo\ntasks:\n  a: { command: "x {{params.i}}", matrix: { i: [1, 2, 3, 4] } }\n'

  it('submits only as many 1-CPU tasks as free CPUs allow, and more as they finish', () => {
    const run = new PlanDriver(FOUR, { capacity: capacity(2) })
    expect(submittedIds(run.tick())).toEqual(['a.0', 'a.1'])
    expect(run.tick().submissions).toEqual([])
    expect(submittedIds(run.tick([run.observe('a.0', 'succeeded')]))).toEqual(['a.2'])
  })

  it('counts memory too', () => {
    const run = new PlanDriver(
      'name: demo\ntasks:\n  a: { command: "x {{params.i}}", matrix: { i: [1, 2, 3] }, resources: { memory: 16G } }\n',
      { capacity: capacity(64, {}, 40 * 1024) },
    )
    expect(submittedIds(run.tick())).toEqual(['a.0', 'a.1'])
  })

  it('submits GPU tasks only while GPUs of an acceptable type are free', () => {
    const run = new PlanDriver(
      `
name: demo
tasks:
  train: { command: "t {{params.i}}", matrix: { i: [1, 2, 3] }, resources: { gpus: { count: 1, type: a100 } } }
  big: { command: b, resources: { gpus: { count: 1, type: h100 } } }
  cpu: { command: c }
`,
      { capacity: capacity(16, { a100: 2, v100: 4 }) },
    )
    expect(submittedIds(run.tick()).sort()).toEqual(['cpu', 'train.0', 'train.1'])
    expect(run.task('big').state).toBe('pending')
    expect(run.task('train.2').state).toBe('pending')
    const next = run.tick([run.observe('train.0', 'succeeded')])
    expect(submittedIds(next)).toEqual(['train.2'])
    expect(run.task('big').state).toBe('pending')
  })

  it('places a GPU task of any type on whichever type has enough free devices', () => {
    const run = new PlanDriver('name: demo\ntasks:\n  t: { command: x, resources: { gpus: 2 } }\n', {
      capacity: capacity(8, { a100: 1, v100: 2 }),
    })
    expect(submittedIds(run.tick())).toEqual(['t'])
  })

  it('never has more than maxActive attempts in flight', () => {
    const run = new PlanDriver(FOUR, { maxActive: 3 })
    expect(run.tick().submissions).toHaveLength(3)
    expect(run.tick().submissions).toHaveLength(0)
    expect(run.tick([run.observe('a.1', 'failed')]).submissions).toHaveLength(1)
  })
})

describe('lost jobs', () => {
  const yaml = (retries: string) =>
    `name: demo\ntasks:\n  train: { command: t${retries} }\n  eval: { command: e, after: [train] }\n`

  it('counts missed polls and declares the attempt lost (unknown, never succeeded) after lostAfterMissedPolls', () => {
    const run = new PlanDriver(yaml(''), { lostAfterMissedPolls: 3 })
    run.tick()
    const key = run.attempt('train').submissionKey
    expect(run.tick([run.missing('train')]).attemptUpdates.get(key)).toEqual({ missedPolls: 1 })
    expect(run.tick([run.missing('train')]).attemptUpdates.get(key)).toEqual({ missedPolls: 2 })
    const lost = run.tick([run.missing('train')])
    expect(lost.attemptUpdates.get(key)).toMatchObject({ missedPolls: 3, state: 'unknown' })
    expect(lost.attemptUpdates.get(key)?.reason).toMatch(/^lost: the scheduler stopped reporting job/)
    expect(lost.events).toContainEqual(expect.objectContaining({ type: 'task:lost', taskId: 'train' }))
    expect(run.task('train').state).not.toBe('succeeded')
    expect(submittedIds(lost)).not.toContain('eval')
  })

  it('resets the count when the job shows up again', () => {
    const run = new PlanDriver(yaml(''))
    run.tick()
    run.tick([run.missing('train')])
    run.tick([run.missing('train')])
    const plan = run.tick([run.observe('train', 'running')])
    expect(plan.attemptUpdates.get(run.attempt('train').submissionKey)).toMatchObject({
      missedPolls: 0,
      state: 'running',
    })
  })

  it('retries a lost attempt per the retry policy', () => {
    const run = new PlanDriver(yaml(', retries: { max: 1, backoff: 10s }'))
    run.tick()
    for (let i = 0; i < 3; i++) run.tick([run.missing('train')])
    // the planner may conclude in the tick that declared the loss or in the next one
    run.tick()
    expect(run.task('train')).toMatchObject({ state: 'retry_wait', failures: 1 })
    run.advance(10)
    expect(run.tick().submissions).toMatchObject([
      { taskId: 'train', attempt: 2, submissionKey: 'rpo.run1.train.2', resend: false },
    ])
  })

  it('fails a lost attempt without retries, and its dependents with it', () => {
    const run = new PlanDriver(yaml(''))
    run.tick()
    for (let i = 0; i < 3; i++) run.tick([run.missing('train')])
    const plan = run.tick()
    expect(run.task('train').state).toBe('failed')
    expect(run.task('train').reason).toContain('lost')
    expect(run.task('eval').state).toBe('upstream_failed')
    expect(plan.runState).toBe('failed')
  })
})

describe('attempts written before a crash', () => {
  function crashedSnapshot(): RunSnapshot {
    const base = snapshotOf(pipelineOf('name: demo\ntasks:\n  train: { command: t }\n'))
    const tasks = base.tasks.map((t): TaskSnapshot => ({ ...t, state: 'active', attempts: 1 }))
    return { ...base, tasks, latestAttempts: [attemptOf('train', 1, { state: 'submitting', jobId: null })] }
  }

  it('re-sends a never-submitted attempt with the same submission key', () => {
    const plan = planTick(
      crashedSnapshot(),
      [{ kind: 'never-submitted', submissionKey: 'rpo.run1.train.1' }],
      defaultOptions(T0),
    )
    expect(plan.submissions).toMatchObject([
      { taskId: 'train', attempt: 1, submissionKey: 'rpo.run1.train.1', resend: true },
    ])
    expect(plan.taskUpdates.get('train')?.attempts).toBeUndefined()
  })

  it('adopts the job the scheduler already has for the key instead of submitting again', () => {
    const plan = planTick(
      crashedSnapshot(),
      [{ kind: 'found', submissionKey: 'rpo.run1.train.1', jobId: '4242' }],
      defaultOptions(T0),
    )
    expect(plan.submissions).toEqual([])
    expect(plan.attemptUpdates.get('rpo.run1.train.1')).toEqual({ jobId: '4242', state: 'pending', missedPolls: 0 })
  })

  it('never counts a submitting attempt as missing', () => {
    const plan = planTick(
      crashedSnapshot(),
      [{ kind: 'missing', submissionKey: 'rpo.run1.train.1' }],
      defaultOptions(T0),
    )
    expect(plan.attemptUpdates.size).toBe(0)
    expect(plan.submissions).toEqual([])
  })
})

describe('stopped runs', () => {
  it.each(['interrupted', 'cancelled'] as const)('submits nothing for a run that is %s', (state) => {
    const loaded = pipelineOf('name: demo\ntasks:\n  a: { command: x }\n  b: { command: y }\n')
    const plan = planTick(snapshotOf(loaded, state), [], defaultOptions(T0))
    expect(plan.submissions).toEqual([])
    expect(plan.runState).toBe(state)
  })

  it('does not re-send never-submitted attempts of an interrupted run', () => {
    const base = snapshotOf(pipelineOf('name: demo\ntasks:\n  a: { command: x }\n'), 'interrupted')
    const snapshot: RunSnapshot = {
      ...base,
      tasks: base.tasks.map((t) => ({ ...t, state: 'active', attempts: 1 })),
      latestAttempts: [attemptOf('a', 1, { state: 'submitting', jobId: null })],
    }
    const plan = planTick(snapshot, [{ kind: 'never-submitted', submissionKey: 'rpo.run1.a.1' }], defaultOptions(T0))
    expect(plan.submissions).toEqual([])
  })
})

describe('determinism and purity', () => {
  function midRun(): { snapshot: RunSnapshot; observations: ReturnType<PlanDriver['observe']>[] } {
    const run = new PlanDriver(`
name: demo
tasks:
  prep: { command: p, matrix: { i: [1, 2, 3] } }
  train: { command: t, after: [prep], retries: 2 }
  list: { command: l }
  each: { command: "e {{item}}", foreach: { task: list, output: xs }, after: [prep] }
`)
    run.tick()
    return {
      snapshot: run.snapshot,
      observations: [
        run.observe('prep.0', 'succeeded'),
        run.observe('prep.1', 'failed'),
        run.observe('prep.2', 'running'),
        run.observe('list', 'succeeded', { outputs: { xs: [1, 2] } }),
      ],
    }
  }

  it('plans the same input the same way twice', () => {
    const { snapshot, observations } = midRun()
    const options = defaultOptions(T0 + 5000, { capacity: capacity(2, { a100: 1 }) })
    expect(planTick(snapshot, observations, options)).toEqual(planTick(snapshot, observations, options))
  })

  it('does not mutate its (deep-frozen) input', () => {
    const { snapshot, observations } = midRun()
    const before = JSON.stringify({ snapshot, observations })
    deepFreeze(snapshot)
    deepFreeze(observations)
    const plan = planTick(snapshot, observations, defaultOptions(T0 + 5000))
    expect(plan.taskUpdates.size).toBeGreaterThan(0)
    expect(JSON.stringify({ snapshot, observations })).toBe(before)
  })
})

describe('scale', () => {
  it('plans a 10,000-task snapshot in one tick', () => {
    const tasks: Record<string, unknown> = {}
    for (let g = 0; g < 100; g++) {
      const after = g % 10 === 0 ? {} : { after: [`g${g - 1}`] }
      tasks[`g${g}`] = {
        command: 'run {{params.i}}',
        matrix: { i: Array.from({ length: 100 }, (_, i) => i) },
        ...after,
      }
    }
    const base = snapshotOf(pipelineOf(JSON.stringify({ name: 'big', tasks }), 'big.json'))
    const stage = (t: TaskSnapshot) => Number(t.group.slice(1)) % 10
    const snapshot: RunSnapshot = {
      ...base,
      tasks: base.tasks.map((t) =>
        stage(t) < 5
          ? { ...t, state: 'succeeded', attempts: 1 }
          : stage(t) === 5
            ? { ...t, state: 'active', attempts: 1 }
            : t,
      ),
      latestAttempts: base.tasks
        .filter((t) => stage(t) <= 5)
        .map((t) => attemptOf(t.id, 1, { state: stage(t) < 5 ? 'succeeded' : 'running' })),
    }
    const observations = snapshot.latestAttempts
      .filter((a) => a.state === 'running')
      .map((a) => ({
        kind: 'observed' as const,
        submissionKey: a.submissionKey,
        job: {
          jobId: a.jobId as never,
          state: 'succeeded' as const,
          nativeState: 'COMPLETED',
          exitCode: 0,
          startedAt: null,
          endedAt: null,
        },
      }))
    expect(snapshot.tasks).toHaveLength(10_000)
    const started = performance.now()
    const plan = planTick(snapshot, observations, defaultOptions(T0, { maxActive: 10_000 }))
    const elapsedMs = performance.now() - started
    console.log(`10,000-task snapshot (1,000 observations): planned in ${elapsedMs.toFixed(0)} ms`)
    expect(plan.submissions).toHaveLength(1000)
    expect(new Set(plan.submissions.map((s) => Number(s.taskId.slice(1).split('.')[0]) % 10))).toEqual(new Set([6]))
    expect(plan.runState).toBe('running')
    expect(elapsedMs).toBeLessThan(5000)
  })
})

describe('dependencies on whole arrays (PBS)', () => {
  const SWEEP = `
name: demo
tasks:
  train: { command: "t {{params.i}}", matrix: { i: [1, 2] }, retries: { max: 1, backoff: 0s } }
  report: { command: r, after: [train] }
`
  const run = (wholeArrayDependencies: boolean) => {
    const driver = new PlanDriver(SWEEP, { nativeDependencies: true, wholeArrayDependencies })
    expect(submittedIds(driver.tick()).sort()).toEqual(['report', 'train.0', 'train.1'])
    // train.0 fails and is retried: report's queued job names the failed one and is rewired
    driver.tick([driver.observe('train.0', 'failed')])
    return driver
  }

  it('waits for the upstreams to finish instead of depending on an array that holds a retried instance', () => {
    const driver = run(true)
    expect(driver.task('report').state).toBe('pending')
    expect(submittedIds(driver.tick())).not.toContain('report')
    driver.tick([driver.observe('train.0', 'succeeded'), driver.observe('train.1', 'succeeded')])
    expect(driver.task('report').state).toBe('active')
    expect(driver.snapshot.latestAttempts.find((a) => a.taskId === 'report')?.attempt).toBe(2)
  })

  it('rewires at once where dependencies name single instances (Slurm)', () => {
    const driver = run(false)
    expect(submittedIds(driver.tick())).toContain('report')
    expect(driver.task('report').state).toBe('active')
  })
})
