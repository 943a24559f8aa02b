/**
 * With native dependencies a dependent is queued on the scheduler while its upstream runs. When the
 * upstream's job ends other than succeeded (a checkpoint exit 85, a failure to retry), Slurm cancels
 * the queued dependent itself (kill-on-invalid-dep), and squeue can show that cancel before rpo has
 * read the upstream's exit code from accounting. The dependent was not cancelled by anyone: it waits
 * for its upstream again. (Found by the kill-at-random fault suite: a report ended `cancelled`.)
 */
import { describe, expect, it } from 'vitest'
import { PlanDriver } from '../../support/fixtures.js'

const PIPELINE = `
name: demo
tasks:
  ckpt:
    command: train
    checkpoint: { every: never, leadTime: 30s, maxResumes: 3 }
  report: { command: report, after: [ckpt] }
`

describe('a queued dependent the scheduler cancelled', () => {
  it('waits again when its upstream has not been concluded yet, and runs after the upstream resumes', () => {
    const run = new PlanDriver(PIPELINE, { nativeDependencies: true })
    run.tick()
    expect(run.attempt('report')).toMatchObject({ attempt: 1 })
    run.advance(5)
    run.tick([run.observe('ckpt', 'running')])
    // squeue: ckpt's job is completing (its exit code not read yet), report's job was cancelled by Slurm
    run.advance(5)
    run.tick([run.observe('ckpt', 'completing'), run.observe('report', 'cancelled')])
    expect(run.task('report').state).toBe('pending')
    // accounting: exit 85, ckpt resumes; report goes out again behind the new attempt
    run.advance(5)
    const plan = run.tick([run.observe('ckpt', 'failed', { exitCode: 85 })])
    expect(run.task('ckpt').state).not.toBe('failed')
    run.advance(5)
    const next = run.tick()
    const submitted = [...plan.submissions, ...next.submissions].map((s) => s.taskId)
    expect(submitted).toContain('report')
    expect(run.task('report').state).toBe('active')
  })

  it('is upstream_failed when its upstream failed for good', () => {
    const run = new PlanDriver(PIPELINE.replace('maxResumes: 3', 'maxResumes: 0'), { nativeDependencies: true })
    run.tick()
    run.advance(5)
    run.tick([run.observe('ckpt', 'running')])
    run.advance(5)
    run.tick([run.observe('ckpt', 'failed', { exitCode: 3 }), run.observe('report', 'cancelled')])
    expect(run.task('report').state).toBe('upstream_failed')
  })

  it('stays cancelled when its upstream succeeded and the job was cancelled anyway (an admin)', () => {
    const run = new PlanDriver(PIPELINE, { nativeDependencies: true })
    run.tick()
    run.advance(5)
    run.tick([run.observe('ckpt', 'succeeded'), run.observe('report', 'cancelled')])
    expect(run.task('report').state).toBe('cancelled')
  })
})
