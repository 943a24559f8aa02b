// The Slurm batch submission script with hostile values, run with the local bash against a fake
// sbatch that keeps what it was given: a folder path with spaces, quotes, $(…) and backquotes and an
// environment value with newlines reach sbatch and the job intact, and nothing in them ever runs.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildBatchSubmitScript, parseBatchSubmitOutput } from '../../../adapters/slurm/sbatch-batch.js'
import { renderSlurmScript, SLURM_JOB_TEMPLATE_FILE } from '../../../adapters/slurm/slurm-script.js'
import { RpoError } from '../../../src/core/errors.js'
import { asSubmissionKey, type JobSubmission } from '../../../src/scheduler/scheduler-adapter.js'
import { runWithFakeSbatch } from './fake-sbatch.js'

const ROOT = join(import.meta.dirname, '../../..')
const TEMPLATE = readFileSync(join(ROOT, SLURM_JOB_TEMPLATE_FILE), 'utf8')
const WORK = mkdtempSync(join(tmpdir(), 'rpo-sbatch-batch-'))
afterAll(() => rmSync(WORK, { recursive: true, force: true }))

// a path without spaces, so that an expansion anywhere would really create it
const PWNED = join(WORK, 'pwned')
const EVIL_DIR = `${WORK}/it's a "dir" $(touch ${PWNED}) \`touch ${PWNED}\` \${HOME}`
const EVIL_VALUE = `line one\n$(touch ${PWNED})\n\`touch ${PWNED}\` 'q' "dq" \${HOME}`

function job(overrides: Partial<JobSubmission> = {}): JobSubmission {
  return {
    submissionKey: asSubmissionKey('rpo.r1.a.1'),
    runId: 'r1',
    taskId: 'a',
    attempt: 1,
    // the job writes the variable where the test can read it
    command: 'printf %s "$EVIL" >"$RPO_TEST_OUT"',
    workDir: EVIL_DIR,
    jobDir: `${EVIL_DIR}/jobs/rpo.r1.a.1`,
    env: { EVIL: EVIL_VALUE, RPO_TEST_OUT: `${EVIL_DIR}/out.txt` },
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 60, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
    ...overrides,
  }
}

describe('buildBatchSubmitScript with hostile values', () => {
  it('passes paths and values intact to sbatch and the job, and executes none of them', () => {
    const bin = join(WORK, 'bin')
    mkdirSync(bin, { recursive: true })
    // sbatch: keeps its argv and the script it reads on stdin, answers job id 7
    writeFileSync(
      join(bin, 'sbatch'),
      `#!/bin/bash\nprintf '%s\\n' "$@" >${JSON.stringify(join(WORK, 'argv'))}\ncat >${JSON.stringify(join(WORK, 'job.sh'))}\necho 7\n`,
    )
    chmodSync(join(bin, 'sbatch'), 0o755)
    const submission = job()
    const batch = [{ job: submission, script: renderSlurmScript(TEMPLATE, submission) }]
    const run = spawnSync('bash', ['-s'], {
      input: buildBatchSubmitScript(batch),
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    })
    expect(run.status, run.stderr).toBe(0)
    expect(parseBatchSubmitOutput(run.stdout, batch)).toEqual([
      { kind: 'submitted', submissionKey: 'rpo.r1.a.1', jobId: '7' },
    ])
    // the job folder was created under its exact name
    expect(existsSync(`${EVIL_DIR}/jobs/rpo.r1.a.1`)).toBe(true)
    // sbatch got the script byte for byte
    const sent = readFileSync(join(WORK, 'job.sh'), 'utf8')
    expect(sent).toBe(batch[0]?.script)
    // and the job, when it runs, sees the value intact
    const ran = spawnSync('bash', [join(WORK, 'job.sh')], { encoding: 'utf8' })
    expect(ran.status, ran.stderr).toBe(0)
    expect(readFileSync(`${EVIL_DIR}/out.txt`, 'utf8')).toBe(EVIL_VALUE)
    expect(existsSync(PWNED)).toBe(false)
  })

  it('refuses a folder path with a newline (sbatch reads #SBATCH lines itself) before anything runs', () => {
    const lines = job({ jobDir: `${WORK}/jobs/a\n$(touch ${PWNED})` })
    expect(() => renderSlurmScript(TEMPLATE, lines)).toThrow(RpoError)
  })
})

describe('the batch answer', () => {
  const plain = (key: string, marker = '', after: string[] = []): { job: JobSubmission; script: string } => {
    const submission = job({
      submissionKey: asSubmissionKey(key),
      workDir: WORK,
      jobDir: `${WORK}/jobs/${key}`,
      dependsOn: after.map((up) => ({ submissionKey: asSubmissionKey(up), jobId: null, condition: 'succeeded' })),
    })
    return { job: submission, script: `#!/bin/bash\n${marker}\ntrue\n` }
  }

  it('takes the id after a warning, wires it into a dependent, and skips the dependent of a refused job', () => {
    const batch = [
      plain('rpo.r1.warned.1', '# fake-sbatch: warn'),
      plain('rpo.r1.after-warned.1', '', ['rpo.r1.warned.1']),
      plain('rpo.r1.refused.1', '# fake-sbatch: refuse'),
      plain('rpo.r1.after-refused.1', '', ['rpo.r1.refused.1']),
    ]
    const run = runWithFakeSbatch(buildBatchSubmitScript(batch))
    expect(run.status, run.stderr).toBe(0)
    expect(parseBatchSubmitOutput(run.stdout, batch)).toEqual([
      { kind: 'submitted', submissionKey: 'rpo.r1.warned.1', jobId: '700' },
      { kind: 'submitted', submissionKey: 'rpo.r1.after-warned.1', jobId: '701' },
      {
        kind: 'rejected',
        submissionKey: 'rpo.r1.refused.1',
        message:
          'Batch job submission failed: Invalid account or account/partition combination specified sbatch: error: (second line)',
      },
      {
        kind: 'rejected',
        submissionKey: 'rpo.r1.after-refused.1',
        message: 'an upstream job of this batch was refused',
      },
    ])
    expect(run.argv.get('701')).toContain('--dependency=afterok:700')
    // sbatch was called for the three others only, and the scratch file for its answers is gone
    expect([...run.argv.keys()]).toEqual(['700', '701'])
    expect(run.leftInTmp).toEqual([])
  })
})
