// Sweeps as job arrays: which instances are combined, the script each array task runs, and how the
// batch answer maps back to one job id per instance.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { buildBatchSubmitScript, parseBatchSubmitOutput } from '../../../adapters/slurm/sbatch-batch.js'
import { groupIntoUnits, renderSlurmArrayScript } from '../../../adapters/slurm/slurm-array.js'
import { asNativeJobId, asSubmissionKey, type JobSubmission } from '../../../src/scheduler/scheduler-adapter.js'
import { runWithFakeSbatch } from './fake-sbatch.js'

function instance(index: number, overrides: Partial<JobSubmission> = {}): JobSubmission {
  const key = asSubmissionKey(`rpo.r1.train.${index}.1`)
  return {
    submissionKey: key,
    runId: 'r1',
    taskId: `train.${index}`,
    attempt: 1,
    command: `echo "lr=$RPO_PARAM_LR index=${index}"`,
    workDir: '/w',
    jobDir: `/w/jobs/${key}`,
    env: { RPO_TASK_ID: `train.${index}`, RPO_PARAM_LR: `0.${index}` },
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 60, gpus: { count: 1, types: ['a100'] }, nodes: 1 },
    dependsOn: [],
    project: 'vision',
    partition: 'gpu',
    array: { key: asSubmissionKey('rpo.r1.train.array.1'), index, throttle: 2 },
    ...overrides,
  }
}

const single = (job: JobSubmission) => `#!/bin/bash\n# single ${job.submissionKey}\n`

describe('groupIntoUnits', () => {
  it('combines instances of one sweep with the same shape, in batch order, and leaves the rest alone', () => {
    const prep = { ...instance(0), submissionKey: asSubmissionKey('rpo.r1.prep.1'), array: undefined } as JobSubmission
    const odd = instance(3, { resources: { ...instance(3).resources, memoryMb: 999 } })
    const units = groupIntoUnits(
      [prep, instance(0), instance(1), odd, instance(2)],
      single,
      (m) => `array of ${m.length}`,
    )
    expect(units.map((u) => [u.job.submissionKey, u.members?.map((m) => m.array?.index) ?? null, u.script])).toEqual([
      ['rpo.r1.prep.1', null, '#!/bin/bash\n# single rpo.r1.prep.1\n'],
      ['rpo.r1.train.0.1', [0, 1, 2], 'array of 3'],
      ['rpo.r1.train.3.1', null, '#!/bin/bash\n# single rpo.r1.train.3.1\n'],
    ])
  })
})

describe('renderSlurmArrayScript', () => {
  const script = renderSlurmArrayScript([instance(0), instance(2), instance(5)], {})

  it('asks for exactly the instances, throttled, with per-instance log folders', () => {
    expect(script).toContain('#SBATCH --job-name=rpo.r1.train.array.1')
    expect(script).toContain('#SBATCH --array=0,2,5%2')
    expect(script).toContain('#SBATCH --output=/w/jobs/rpo.r1.train.%a.1/slurm-%A_%a.out')
    expect(script).toContain('#SBATCH --gres=gpu:a100:1')
    expect(script).not.toContain('--output=/w/jobs/rpo.r1.train.0.1/')
  })

  it('runs the right instance for each array index, and refuses an unknown one', () => {
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0)
    const run = (index: string) =>
      spawnSync('bash', [], {
        input: script,
        env: { PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: index },
        encoding: 'utf8',
      })
    expect(run('2').stdout).toBe('lr=0.2 index=2\n')
    expect(run('5').stdout).toBe('lr=0.5 index=5\n')
    const unknown = run('1')
    expect(unknown.status).toBe(3)
    expect(unknown.stderr).toContain('no instance for array index 1')
  })
})

describe('array units in a submission batch', () => {
  it('wires a dependent on every instance and maps the answer to <array id>_<index> per instance', () => {
    // job folders the batch can create: it runs below against a fake sbatch
    const work = mkdtempSync(join(tmpdir(), 'rpo-array-batch-'))
    onTestFinished(() => rmSync(work, { recursive: true, force: true }))
    const at = (index: number): Partial<JobSubmission> => ({ workDir: work, jobDir: `${work}/jobs/${index}` })
    const members = [instance(0, at(0)), instance(1, at(1))]
    const report: JobSubmission = {
      ...instance(9, at(9)),
      submissionKey: asSubmissionKey('rpo.r1.report.1'),
      array: undefined,
      dependsOn: members.map((m) => ({ submissionKey: m.submissionKey, jobId: null, condition: 'succeeded' as const })),
    }
    const units = groupIntoUnits([...members, report], single, (m) => renderSlurmArrayScript(m, {}))
    const text = buildBatchSubmitScript(units, 'seed')
    expect(spawnSync('bash', ['-n'], { input: text }).status).toBe(0)
    expect(text).toContain('"--dependency=afterok:${id_0}_0:${id_0}_1"')
    const run = runWithFakeSbatch(text)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toBe('rpo-array 0 700\nrpo-job 1 701\n')
    expect(run.argv.get('701')).toContain('--dependency=afterok:700_0:700_1')
    const results = parseBatchSubmitOutput(run.stdout, units)
    expect(results).toEqual([
      { kind: 'submitted', submissionKey: 'rpo.r1.train.0.1', jobId: asNativeJobId('700_0') },
      { kind: 'submitted', submissionKey: 'rpo.r1.train.1.1', jobId: asNativeJobId('700_1') },
      { kind: 'submitted', submissionKey: 'rpo.r1.report.1', jobId: asNativeJobId('701') },
    ])
    const refused = parseBatchSubmitOutput(
      'rpo-fail 0 sbatch: error: Batch job submission failed: Invalid account\n',
      units,
    )
    expect(refused.map((r) => [r.submissionKey, r.kind])).toEqual([
      ['rpo.r1.train.0.1', 'rejected'],
      ['rpo.r1.train.1.1', 'rejected'],
    ])
  })
})
