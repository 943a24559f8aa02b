/**
 * Time escalation (`retries.timeFactor` up to `retries.maxTime`): a task without a checkpoint that
 * hit its time limit is retried asking for more time, as out-of-memory asks for more memory — one
 * rule for both (src/core/retry/escalate-resource.ts). Checked as the planner applies it, down to
 * the `#SBATCH --time` of the next attempt's script, and as properties of the rule.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { renderSlurmScript, SLURM_JOB_TEMPLATE_FILE } from '../../../adapters/slurm/slurm-script.js'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import { decideAfterEnding } from '../../../src/core/retry/decide-after-ending.js'
import { escalate } from '../../../src/core/retry/escalate-resource.js'
import { attemptResources, type TaskOverrides } from '../../../src/core/scheduling/run-snapshot.js'
import { PlanDriver, submissionOf } from '../../support/fixtures.js'
import { pipelineRejection } from '../../support/rejection.js'

const TEMPLATE = readFileSync(join(import.meta.dirname, '..', '..', '..', SLURM_JOB_TEMPLATE_FILE), 'utf8')

const TRAIN = (resources: string, extra: string) => `
name: demo
tasks:
  train:
    command: python train.py
    resources: { ${resources} }
${extra}
`

function sbatchTime(script: string): string | undefined {
  return /^#SBATCH --time=(\S+)$/m.exec(script)?.[1]
}

describe('a time-limit ending without a checkpoint', () => {
  const ESCALATING = '    retries: { max: 3, backoff: 1s, timeFactor: 2, maxTime: 3m }\n'

  it('asks for more time on each retry, up to retries.maxTime, then gives up naming it', () => {
    const run = new PlanDriver(TRAIN('time: 1m', ESCALATING))
    run.tick()
    const first = submissionOf(run, 'train', 0)
    expect(first.resources.timeLimitSeconds).toBe(60)
    expect(sbatchTime(renderSlurmScript(TEMPLATE, first))).toBe('0-00:01:00')

    run.tick([run.observe('train', 'timeout')])
    expect(run.task('train')).toMatchObject({ state: 'retry_wait', failures: 1, overrides: { timeLimitSeconds: 120 } })
    expect(run.task('train').reason).toBe(
      'ran past its time limit and was stopped with a time limit of 60 s; the next attempt asks for a time limit of 120 s',
    )
    run.advance(1)
    run.tick()
    const second = submissionOf(run, 'train', 0)
    expect(second.attempt).toBe(2)
    expect(second.resources.timeLimitSeconds).toBe(120)
    // what Slurm is asked for: the rendered script of attempt 2
    expect(sbatchTime(renderSlurmScript(TEMPLATE, second))).toBe('0-00:02:00')
    // the rest of the request is the declared one
    expect(second.resources.memoryMb).toBe(first.resources.memoryMb)

    run.tick([run.observe('train', 'timeout')])
    run.advance(2)
    run.tick()
    expect(submissionOf(run, 'train', 0).resources.timeLimitSeconds).toBe(180)

    run.tick([run.observe('train', 'timeout')])
    expect(run.task('train')).toMatchObject({
      state: 'failed',
      failures: 3,
      reason:
        'ran past its time limit and was stopped with a time limit of 180 s, the escalation ceiling (retries.maxTime)',
    })
  })

  it('escalates by 1.5× by default, bounded by the retry count', () => {
    const run = new PlanDriver(TRAIN('time: 1h', '    retries: 1\n'))
    run.tick()
    run.tick([run.observe('train', 'timeout')])
    expect(submissionOf(run, 'train').resources.timeLimitSeconds).toBe(5400)
    run.advance(10)
    run.tick()
    run.tick([run.observe('train', 'timeout')])
    expect(run.task('train')).toMatchObject({
      state: 'failed',
      reason: 'ran past its time limit and was stopped (after 2 attempts)',
    })
  })

  it('timeFactor 1 retries with the same time and changes nothing', () => {
    const run = new PlanDriver(TRAIN('time: 10m', '    retries: { max: 1, timeFactor: 1 }\n'))
    run.tick()
    run.tick([run.observe('train', 'timeout')])
    expect(run.task('train')).toMatchObject({ state: 'retry_wait', overrides: null })
    expect(run.task('train').reason).toBe('ran past its time limit and was stopped with a time limit of 600 s')
    expect(submissionOf(run, 'train').resources.timeLimitSeconds).toBe(600)
  })

  it('a task that checkpoints resumes with the same time instead', () => {
    const run = new PlanDriver(
      TRAIN('time: 10m', '    retries: { max: 2, timeFactor: 2 }\n    checkpoint: { leadTime: 1m, maxResumes: 2 }\n'),
    )
    run.tick()
    run.tick([run.observe('train', 'timeout')])
    expect(run.task('train')).toMatchObject({ state: 'active', resumes: 1, failures: 0, overrides: null })
    expect(submissionOf(run, 'train', 0).resources.timeLimitSeconds).toBe(600)
  })

  it('memory and time escalations keep each other', () => {
    const run = new PlanDriver(TRAIN('time: 1m, memory: 1G', '    retries: { max: 3, backoff: 1s, timeFactor: 2 }\n'))
    run.tick()
    run.tick([run.observe('train', 'out_of_memory')])
    run.advance(1)
    run.tick()
    run.tick([run.observe('train', 'timeout')])
    expect(run.task('train').overrides).toEqual({ memoryMb: 1536, timeLimitSeconds: 120 })
    expect(submissionOf(run, 'train').resources).toMatchObject({ memoryMb: 1536, timeLimitSeconds: 120 })
  })
})

describe('retries.timeFactor and retries.maxTime in a pipeline file', () => {
  const task = (body: string) => `name: demo\ntasks:\n  train:\n    command: "true"\n${body}`

  it('resolve to the retry policy; defaults 1.5 and no ceiling', () => {
    const set = loadPipelineText('p.yaml', task('    retries: { max: 1, timeFactor: 3, maxTime: 2h30m }\n'))
    expect(set.pipeline.tasks[0]?.retry).toMatchObject({ timeFactor: 3, maxTimeSeconds: 9000 })
    const unset = loadPipelineText('p.yaml', task('    retries: 2\n'))
    expect(unset.pipeline.tasks[0]?.retry).toMatchObject({ timeFactor: 1.5, maxTimeSeconds: null })
  })

  it('refuses a factor below 1 and a ceiling that is no duration, each located', () => {
    const error = pipelineRejection(task('    retries: { max: 1, timeFactor: 0.5, maxTime: soon }\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(/pipeline\.yaml:5:\d+: tasks\.train\.retries\.timeFactor: /)
    expect(error.message).toMatch(/pipeline\.yaml:5:\d+: tasks\.train\.retries\.maxTime: /)
  })

  it('refuses a ceiling below the declared time limit, at retries.maxTime', () => {
    const error = pipelineRejection(task('    resources: { time: 1h }\n    retries: { max: 1, maxTime: 30m }\n'))
    expect(error.code).toBe('spec-invalid')
    expect(error.message).toMatch(
      /pipeline\.yaml:6:\d+: tasks\.train\.retries\.maxTime: .*retries\.maxTime \(30m\) is below resources\.time \(1h\)/,
    )
  })
})

describe('the escalation rule', () => {
  const amount = fc.integer({ min: 1, max: 365 * 86_400 })
  const factor = fc.double({ min: 1, max: 10, noNaN: true })

  it('never asks below the current amount nor above the ceiling; stops at the ceiling', () => {
    fc.assert(
      fc.property(amount, factor, fc.option(amount, { nil: null }), (current, f, ceiling) => {
        const step = escalate(current, f, ceiling)
        if (ceiling !== null && current >= ceiling) return step.kind === 'at-ceiling'
        return step.kind === 'escalated' && step.next >= current && (ceiling === null || step.next <= ceiling)
      }),
    )
  })

  it('through the failure policy: a run of time-limit endings asks for non-decreasing limits, never above maxTime', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 86_400 }),
        fc.integer({ min: 0, max: 86_400 }),
        factor,
        fc.integer({ min: 1, max: 12 }),
        (time, extra, f, retries) => {
          const maxTime = time + extra
          const { pipeline } = loadPipelineText(
            'p.yaml',
            `name: p\ntasks:\n  t:\n    command: "true"\n    resources: { time: ${time} }\n    retries: { max: ${retries}, timeFactor: ${f}, maxTime: ${maxTime} }\n`,
          )
          const definition = pipeline.tasks[0]
          if (!definition) return false
          let overrides: TaskOverrides | null = null
          let last = time
          for (let failures = 0; failures <= retries; failures++) {
            const ended = { state: 'timeout', exitCode: null, nodes: [], why: 'timed out' } as const
            const decision = decideAfterEnding(ended, { failures, resumes: 0, overrides }, definition)
            if (decision.kind !== 'retry') return failures === retries || last >= maxTime
            overrides = decision.overrides
            const next = attemptResources(definition, overrides).timeLimitSeconds
            if (next < last || next > maxTime) return false
            last = next
          }
          return true
        },
      ),
    )
  })
})
