/**
 * The tick planner driven tick by tick with a virtual clock: what gets submitted when, retries with
 * backoff, failure propagation, dependency conditions, `when`, foreach fan-out and the run's state.
 */
import { describe, expect, it } from 'vitest'
import { PlanDriver, submittedIds } from '../../support/fixtures.js'

const LINEAR = `
name: demo
tasks:
  prep: { command: prep }
  train: { command: train, after: [prep] }
  eval: { command: eval, after: [train] }
  lint: { command: lint }
`

describe('dependencies', () => {
  it('submits only the root tasks first, critical path first, with attempt 1 and a submission key', () => {
    const run = new PlanDriver(LINEAR)
    const plan = run.tick()
    expect(plan.submissions).toMatchObject([
      { taskId: 'prep', attempt: 1, submissionKey: 'rpo.run1.prep.1', resend: false },
      { taskId: 'lint', attempt: 1, submissionKey: 'rpo.run1.lint.1', resend: false },
    ])
    expect(plan.taskUpdates.get('prep')).toMatchObject({ state: 'active', attempts: 1 })
    expect(plan.taskUpdates.has('train')).toBe(false)
    expect(plan.runState).toBe('running')
  })

  it('keeps dependents waiting while their upstream runs', () => {
    const run = new PlanDriver(LINEAR)
    run.tick()
    run.advance(10)
    const plan = run.tick([run.observe('prep', 'running')])
    expect(plan.submissions).toEqual([])
    expect(plan.events).toContainEqual(expect.objectContaining({ type: 'task:started', taskId: 'prep' }))
    expect(run.task('train').state).toBe('pending')
    expect(run.task('prep').startedAt).not.toBeNull()
  })

  it('marks a task succeeded when its job succeeds and submits its dependents', () => {
    const run = new PlanDriver(LINEAR)
    run.tick()
    run.advance(60)
    const plan = run.tick([run.observe('prep', 'succeeded')])
    expect(plan.taskUpdates.get('prep')).toMatchObject({ state: 'succeeded' })
    expect(plan.events).toContainEqual(expect.objectContaining({ type: 'task:succeeded', taskId: 'prep' }))
    expect(submittedIds(plan)).toEqual(['train'])
    expect(run.task('eval').state).toBe('pending')
    expect(run.attempt('prep').state).toBe('succeeded')
  })

  it('ignores a regression after an ending (a late "running" after "succeeded")', () => {
    const run = new PlanDriver(LINEAR)
    run.tick()
    run.tick([run.observe('prep', 'succeeded')])
    const key = run.attempt('prep').submissionKey
    const late = run.observe('prep', 'running')
    const plan = run.tick([{ ...late, submissionKey: key }])
    expect(plan.attemptUpdates.has(key)).toBe(false)
    expect(run.task('prep').state).toBe('succeeded')
  })
})

describe('retries', () => {
  const RETRYING = `
name: demo
tasks:
  train: { command: train, retries: { max: 2, backoff: 30s } }
  eval: { command: eval, after: [train] }
`

  it('waits the backoff after a failure, then resubmits as attempt 2 — and not before', () => {
    const run = new PlanDriver(RETRYING)
    run.tick()
    run.advance(300)
    const failedAt = run.now
    const failed = run.tick([run.observe('train', 'failed', { exitCode: 3 })])
    expect(failed.taskUpdates.get('train')).toMatchObject({
      state: 'retry_wait',
      failures: 1,
      reason: 'exited with code 3',
      nextAttemptAt: new Date(failedAt + 30_000).toISOString(),
    })
    expect(failed.events).toContainEqual(
      expect.objectContaining({
        type: 'task:retrying',
        taskId: 'train',
        message: 'exited with code 3; retry 1/2 in 30s',
      }),
    )
    expect(failed.submissions).toEqual([])

    run.advance(29)
    expect(run.tick().submissions).toEqual([])
    expect(run.task('train').state).toBe('retry_wait')

    run.advance(1)
    const retried = run.tick()
    expect(retried.submissions).toMatchObject([
      { taskId: 'train', attempt: 2, submissionKey: 'rpo.run1.train.2', resend: false },
    ])
    expect(run.task('train')).toMatchObject({ state: 'active', attempts: 2, nextAttemptAt: null })
  })

  it('doubles the backoff on each failure and gives up after max retries, failing dependents', () => {
    const run = new PlanDriver(RETRYING)
    run.tick()
    run.tick([run.observe('train', 'failed')])
    run.advance(30).tick()
    const second = run.tick([run.observe('train', 'timeout')])
    expect(second.taskUpdates.get('train')).toMatchObject({
      state: 'retry_wait',
      failures: 2,
      nextAttemptAt: new Date(run.now + 60_000).toISOString(),
    })
    run.advance(60).tick()
    expect(run.attempt('train').attempt).toBe(3)
    const last = run.tick([run.observe('train', 'out_of_memory')])
    expect(last.taskUpdates.get('train')).toMatchObject({
      state: 'failed',
      failures: 3,
      reason: 'ran out of memory (after 3 attempts)',
    })
    expect(last.taskUpdates.get('eval')).toMatchObject({ state: 'upstream_failed' })
    expect(last.runState).toBe('failed')
  })

  it('does not retry an ending the policy does not list', () => {
    const run = new PlanDriver(`
name: demo
tasks:
  train: { command: t, retries: { max: 3, on: [node_fail] } }
`)
    run.tick()
    const plan = run.tick([run.observe('train', 'failed', { exitCode: 2 })])
    expect(plan.taskUpdates.get('train')).toMatchObject({ state: 'failed', reason: 'exited with code 2' })
  })
})

describe('failure propagation', () => {
  it('fails a task without retries, marks its dependents upstream_failed and lets an independent branch run on', () => {
    const run = new PlanDriver(LINEAR)
    run.tick()
    const plan = run.tick([run.observe('prep', 'failed', { exitCode: 1 })])
    expect(plan.taskUpdates.get('prep')).toMatchObject({ state: 'failed', reason: 'exited with code 1' })
    expect(plan.taskUpdates.get('train')).toMatchObject({ state: 'upstream_failed', reason: 'upstream prep failed' })
    expect(plan.taskUpdates.get('eval')).toMatchObject({ state: 'upstream_failed' })
    expect(plan.events.map((e) => e.type).filter((t) => t !== 'task:started')).toEqual([
      'task:failed',
      'task:upstream-failed',
      'task:upstream-failed',
    ])
    expect(run.task('lint').state).toBe('active')
    expect(plan.runState).toBe('running')

    const done = run.tick([run.observe('lint', 'succeeded')])
    expect(done.runState).toBe('failed')
    expect(done.events).toContainEqual(expect.objectContaining({ type: 'run:finished', data: { state: 'failed' } }))
  })

  it('fails a task whose job succeeded but whose outputs file is invalid', () => {
    const run = new PlanDriver(LINEAR)
    run.tick()
    const plan = run.tick([run.observe('prep', 'succeeded', { outputsError: '$RPO_OUTPUTS is not valid JSON' })])
    expect(plan.taskUpdates.get('prep')).toMatchObject({ state: 'failed', reason: '$RPO_OUTPUTS is not valid JSON' })
  })
})

describe('dependency conditions', () => {
  const CONDITIONS = `
name: demo
tasks:
  train: { command: t }
  eval: { command: e, after: [train] }
  cleanup: { command: c, after: [{ task: train, condition: finished }] }
  alert: { command: a, after: [{ task: train, condition: failed }] }
`

  it('runs "finished" and "failed" dependents after a failure', () => {
    const run = new PlanDriver(CONDITIONS)
    run.tick()
    const plan = run.tick([run.observe('train', 'failed')])
    expect(submittedIds(plan).sort()).toEqual(['alert', 'cleanup'])
    expect(plan.taskUpdates.get('eval')).toMatchObject({ state: 'upstream_failed' })
  })

  it('skips a "failed" dependent with a reason when the upstream succeeded, and the run still succeeds', () => {
    const run = new PlanDriver(CONDITIONS)
    run.tick()
    const plan = run.tick([run.observe('train', 'succeeded')])
    expect(submittedIds(plan).sort()).toEqual(['cleanup', 'eval'])
    expect(plan.taskUpdates.get('alert')).toMatchObject({
      state: 'skipped',
      reason: 'runs only if train fails, and it did not',
    })
    expect(plan.events).toContainEqual(expect.objectContaining({ type: 'task:skipped', taskId: 'alert' }))
    const done = run.tick([run.observe('eval', 'succeeded'), run.observe('cleanup', 'succeeded')])
    expect(done.runState).toBe('succeeded')
  })
})

describe('when conditions', () => {
  const GATED = `
name: demo
tasks:
  eval: { command: e }
  deploy:
    command: d
    after: [eval]
    when: [{ task: eval, output: accuracy, op: ">=", value: 0.9 }]
`

  it('skips a task whose condition on an upstream output is false, naming the value it got', () => {
    const run = new PlanDriver(GATED)
    run.tick()
    const plan = run.tick([run.observe('eval', 'succeeded', { outputs: { accuracy: 0.75 } })])
    expect(plan.submissions).toEqual([])
    expect(plan.taskUpdates.get('deploy')).toMatchObject({ state: 'skipped' })
    const reason = plan.taskUpdates.get('deploy')?.reason ?? ''
    expect(reason).toContain('eval.accuracy >= 0.9')
    expect(reason).toContain('got 0.75')
    expect(plan.runState).toBe('succeeded')
  })

  it('runs the task when the condition holds', () => {
    const run = new PlanDriver(GATED)
    run.tick()
    const plan = run.tick([run.observe('eval', 'succeeded', { outputs: { accuracy: 0.95 } })])
    expect(submittedIds(plan)).toEqual(['deploy'])
    expect(run.task('eval').outputs).toEqual({ accuracy: 0.95 })
  })

  it('says so when the upstream wrote no such output', () => {
    const run = new PlanDriver(GATED)
    run.tick()
    const plan = run.tick([run.observe('eval', 'succeeded')])
    expect(plan.taskUpdates.get('deploy')?.reason).toContain('got no such output')
  })

  it('skips dependents of a skipped task instead of running them', () => {
    const run = new PlanDriver(`${GATED}  notify: { command: n, after: [deploy] }\n`)
    run.tick()
    const plan = run.tick([run.observe('eval', 'succeeded', { outputs: { accuracy: 0.1 } })])
    expect(plan.taskUpdates.get('notify')).toMatchObject({ state: 'skipped', reason: 'upstream deploy was skipped' })
  })
})

describe('foreach', () => {
  const FANOUT = `
name: demo
tasks:
  list: { command: ls }
  each: { command: "process {{item}}", foreach: { task: list, output: files } }
  merge: { command: m, after: [each] }
`

  it('expands the template into one pending instance per listed item once the list is known', () => {
    const run = new PlanDriver(FANOUT)
    run.tick()
    const plan = run.tick([run.observe('list', 'succeeded', { outputs: { files: ['a.txt', 'b c.txt', 'd.txt'] } })])
    expect(plan.taskUpdates.get('each')).toMatchObject({ state: 'expanded', reason: 'fanned out into 3 tasks' })
    expect(plan.newTasks.map((t) => [t.id, t.group, t.kind, t.item, t.command])).toEqual([
      ['each.0', 'each', 'task', 'a.txt', 'process a.txt'],
      ['each.1', 'each', 'task', 'b c.txt', "process 'b c.txt'"],
      ['each.2', 'each', 'task', 'd.txt', 'process d.txt'],
    ])
    expect(plan.events).toContainEqual(
      expect.objectContaining({ type: 'task:expanded', taskId: 'each', data: { count: 3 } }),
    )
    expect(submittedIds(plan)).toEqual(['each.0', 'each.1', 'each.2'])
  })

  it('runs the downstream of a fan-out only when every instance has ended', () => {
    const run = new PlanDriver(FANOUT)
    run.tick()
    run.tick([run.observe('list', 'succeeded', { outputs: { files: ['a', 'b'] } })])
    expect(run.tick([run.observe('each.0', 'succeeded')]).submissions).toEqual([])
    const plan = run.tick([run.observe('each.1', 'succeeded')])
    expect(submittedIds(plan)).toEqual(['merge'])
  })

  it('fails the template with a clear reason when the upstream output is not a list', () => {
    const run = new PlanDriver(FANOUT)
    run.tick()
    const plan = run.tick([run.observe('list', 'succeeded', { outputs: { files: 'a.txt,b.txt' } })])
    expect(plan.taskUpdates.get('each')).toMatchObject({ state: 'failed' })
    expect(plan.taskUpdates.get('each')?.reason).toBe(
      'foreach: list did not write a list under "files" in its outputs (got string)',
    )
    expect(plan.newTasks).toEqual([])
    expect(plan.taskUpdates.get('merge')).toMatchObject({ state: 'upstream_failed' })
    expect(plan.runState).toBe('failed')
  })

  it('fails the template when the upstream wrote no outputs at all', () => {
    const run = new PlanDriver(FANOUT)
    run.tick()
    const plan = run.tick([run.observe('list', 'succeeded')])
    expect(plan.taskUpdates.get('each')?.reason).toContain('(got nothing)')
  })
})
