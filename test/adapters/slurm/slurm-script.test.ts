import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  buildEnvExports,
  renderSlurmScript,
  SLURM_JOB_TEMPLATE_FILE,
  type SlurmScriptOptions,
} from '../../../adapters/slurm/slurm-script.js'
import { RpoError } from '../../../src/core/errors.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobSubmission,
  type ResourceRequest,
} from '../../../src/scheduler/scheduler-adapter.js'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const TEMPLATE = readFileSync(join(ROOT, SLURM_JOB_TEMPLATE_FILE), 'utf8')
const GOLDEN = join(import.meta.dirname, 'golden')

const CPU: ResourceRequest = { cpus: 4, memoryMb: 8_000, timeLimitSeconds: 2 * 3_600, gpus: null, nodes: 1 }

function job(overrides: Partial<JobSubmission> = {}): JobSubmission {
  return {
    submissionKey: asSubmissionKey('r20240501-ab12.preprocess.1'),
    runId: 'r20240501-ab12',
    taskId: 'preprocess',
    attempt: 1,
    command: 'python preprocess.py --input data/raw --output data/clean',
    workDir: '/home/alice/projects/vision',
    jobDir: '/home/alice/.rpo/runs/r20240501-ab12/preprocess/1',
    env: { RPO_RUN_ID: 'r20240501-ab12', PYTHONUNBUFFERED: '1' },
    resources: CPU,
    dependsOn: [],
    project: 'vision',
    ...overrides,
  }
}

const GPU_TRAIN = job({
  submissionKey: asSubmissionKey('r20240501-ab12.train.2'),
  taskId: 'train',
  attempt: 2,
  command: 'torchrun --nproc-per-node=2 train.py --config "configs/resnet 50.yaml" --resume',
  jobDir: '/home/alice/.rpo/runs/r20240501-ab12/train/2',
  env: { RPO_RUN_ID: 'r20240501-ab12', WANDB_NOTES: "it's the lr=3e-4 run" },
  resources: {
    cpus: 16,
    memoryMb: 64_000,
    timeLimitSeconds: 86_400 + 1_800,
    gpus: { count: 2, types: ['a100'] },
    nodes: 1,
  },
  dependsOn: [
    { submissionKey: asSubmissionKey('up-1201'), jobId: asNativeJobId('1201'), condition: 'succeeded' },
    { submissionKey: asSubmissionKey('up-1202'), jobId: asNativeJobId('1202'), condition: 'succeeded' },
    { submissionKey: asSubmissionKey('up-1203'), jobId: asNativeJobId('1203'), condition: 'finished' },
  ],
  partition: 'gpu',
  qos: 'normal',
})
const GPU_OPTIONS: SlurmScriptOptions = { signal: { name: 'USR2', leadSeconds: 300 }, requeue: true }

const MULTI_TYPE = job({
  submissionKey: asSubmissionKey('r20240501-ab12.sweep-lr-0.01.1'),
  taskId: 'sweep-lr-0.01',
  command: 'python train.py --lr 0.01',
  jobDir: '/home/alice/.rpo/runs/r20240501-ab12/sweep-lr-0.01/1',
  env: {},
  resources: {
    cpus: 8,
    memoryMb: 32_000,
    timeLimitSeconds: 4 * 3_600,
    gpus: { count: 4, types: ['a100', 'h100'] },
    nodes: 2,
  },
  dependsOn: [{ submissionKey: asSubmissionKey('up-1300'), jobId: asNativeJobId('1300'), condition: 'failed' }],
  project: null,
})

const CHECKPOINTED = job({
  submissionKey: asSubmissionKey('r20240501-ab12.train.3'),
  taskId: 'train',
  attempt: 3,
  command: 'python train.py --epochs 90',
  jobDir: '/home/alice/.rpo/runs/r20240501-ab12/train/3',
  env: { RPO_CHECKPOINT_DIR: '/home/alice/.rpo/runs/r20240501-ab12/train/checkpoints', RPO_RESUME: '1' },
  checkpoint: { signal: 'USR2', leadSeconds: 300, maxRestarts: 18 },
  excludeNodes: ['gpu1', 'gpu3'],
})

const CASES: [string, JobSubmission, SlurmScriptOptions][] = [
  ['checkpointed-task.sbatch', CHECKPOINTED, { partition: 'gpu', requeue: false }],
  ['cpu-task.sbatch', job(), { partition: 'cpu', requeue: false }],
  ['gpu-task-with-deps.sbatch', GPU_TRAIN, GPU_OPTIONS],
  ['multi-type-gpu-task.sbatch', MULTI_TYPE, { account: 'default', partition: 'gpu' }],
]

describe('renderSlurmScript golden files', () => {
  it.each(CASES)('%s', (file, submission, options) => {
    const rendered = renderSlurmScript(TEMPLATE, submission, options)
    const path = join(GOLDEN, file)
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) writeFileSync(path, rendered)
    expect(rendered).toBe(readFileSync(path, 'utf8'))
    expect(bash(['-n'], rendered).status).toBe(0)
  })
})

describe('renderSlurmScript resource mapping', () => {
  const directives = (submission: JobSubmission, options: SlurmScriptOptions = {}) =>
    renderSlurmScript(TEMPLATE, submission, options)
      .split('\n')
      .filter((line) => line.startsWith('#SBATCH '))
      .map((line) => line.slice('#SBATCH '.length))

  it('asks for untyped GPUs with a plain gres', () => {
    expect(directives(job({ resources: { ...CPU, gpus: { count: 1, types: [] } } }))).toContain('--gres=gpu:1')
    expect(directives(job({ resources: { ...CPU, gpus: { count: 0, types: ['a100'] } } })).join(' ')).not.toMatch(/gpu/)
  })

  it('uses --gpus with an OR constraint for several types on one node', () => {
    const lines = directives(job({ resources: { ...CPU, gpus: { count: 2, types: ['a100', 'v100'] } } }))
    expect(lines).toContain('--gpus=2')
    expect(lines).toContain("'--constraint=a100|v100'")
  })

  it('warns a checkpointing job before its time limit, makes it requeueable and keeps failed nodes off', () => {
    const lines = directives(CHECKPOINTED, { requeue: false, signal: { name: 'TERM', leadSeconds: 30 } })
    expect(lines).toEqual(expect.arrayContaining(['--requeue', '--signal=B:USR2@300', '--exclude=gpu1,gpu3']))
    expect(lines).not.toContain('--no-requeue')
    expect(directives(job({ hold: true }))).toContain('--hold')
    expect(() => directives(job({ excludeNodes: ['gpu1;rm'] }))).toThrow(RpoError)
  })

  it('stops a job that Slurm restarted in place more often than the task allows', () => {
    const script = renderSlurmScript(TEMPLATE, { ...CHECKPOINTED, command: 'echo ran' }, {})
    const run = (restarts: string) => bash([], script, { SLURM_RESTART_COUNT: restarts })
    expect(run('18')).toMatchObject({ status: 0, stdout: 'ran\n' })
    const stopped = run('19')
    expect(stopped.status).toBe(3)
    expect(stopped.stderr).toContain(
      "restarted 19 times by Slurm, more than the 18 restarts left by the task's checkpoint.maxResumes",
    )
  })

  it('prefers the job partition, QOS and project over the cluster defaults', () => {
    const lines = directives(job({ partition: 'gpu', qos: 'high' }), { partition: 'cpu', qos: 'low', account: 'other' })
    expect(lines).toEqual(expect.arrayContaining(['--partition=gpu', '--qos=high', '--account=vision']))
  })
})

describe('renderSlurmScript with hostile values', () => {
  const HOSTILE = ["'; rm -rf / #", '$(whoami)', '`id`', 'line1\nline2', '"$HOME" \\ %s !! *', '']

  it('exports env values that bash reads back literally', () => {
    const env = Object.fromEntries(HOSTILE.map((value, index) => [`HOSTILE_${index}`, value]))
    const script = renderSlurmScript(TEMPLATE, job({ env }))
    expect(bash(['-n'], script).status).toBe(0)
    // the rendered script's export part: from the first export up to the output-folder line
    const exportPart = script.slice(script.indexOf('\nexport ') + 1, script.indexOf('\n[ -n "${RPO_OUTPUT_DIR') + 1)
    expect(exportPart).toBe(`${buildEnvExports(env).join('\n')}\n`)
    const printer = HOSTILE.map((_, index) => `printf '%s\\0' "$HOSTILE_${index}"`).join('\n')
    const result = bash([], `${exportPart}${printer}\n`)
    expect(result.status).toBe(0)
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(HOSTILE)
  })

  it('runs the command exactly as written, one quoted word for bash -c', () => {
    const command = `cat <<'EOF'\n'; rm -rf / #\n$(whoami) \`id\`\nEOF`
    const script = renderSlurmScript(TEMPLATE, job({ command, env: { MARK: '$(whoami)' } }))
    expect(bash(['-n'], script).status).toBe(0)
    const result = bash([], script)
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`'; rm -rf / #\n$(whoami) \`id\`\n`)
  })

  it('rejects hostile names instead of quoting them', () => {
    const rejected = [
      () => renderSlurmScript(TEMPLATE, job({ submissionKey: asSubmissionKey("x'; rm -rf / #") })),
      () => renderSlurmScript(TEMPLATE, job({ submissionKey: asSubmissionKey('a\n#SBATCH --uid=0') })),
      () => renderSlurmScript(TEMPLATE, job({ partition: '$(whoami)' })),
      () => renderSlurmScript(TEMPLATE, job({ project: '`id`' })),
      () => renderSlurmScript(TEMPLATE, job({ qos: 'a b' })),
      () => renderSlurmScript(TEMPLATE, job({ env: { 'BAD-NAME': 'x' } })),
      () => renderSlurmScript(TEMPLATE, job({ env: { 'X=$(id)': 'x' } })),
      () => renderSlurmScript(TEMPLATE, job({ env: { OK: 'nul\0byte' } })),
      () => renderSlurmScript(TEMPLATE, job({ workDir: '/tmp/a\n#SBATCH --uid=0' })),
      () => renderSlurmScript(TEMPLATE, job({ jobDir: '/tmp/%x' })),
      () => renderSlurmScript(TEMPLATE, job({ jobDir: '/tmp/a\\b' })),
      () => renderSlurmScript(TEMPLATE, job({ resources: { ...CPU, gpus: { count: 1, types: ['a100:2,gpu'] } } })),
      () => renderSlurmScript(TEMPLATE, job({ resources: { ...CPU, timeLimitSeconds: 0 } })),
      () => renderSlurmScript(TEMPLATE, job({ resources: { ...CPU, cpus: 1.5 } })),
      () => renderSlurmScript(TEMPLATE, job(), { signal: { name: 'USR2@1;', leadSeconds: 60 } }),
      () => renderSlurmScript(TEMPLATE, job(), { array: '1-3;id' }),
    ]
    for (const render of rejected) {
      expect(render).toThrow(RpoError)
      try {
        render()
      } catch (error) {
        expect((error as RpoError).code).toBe('spec-invalid')
      }
    }
  })

  it('refuses a template placeholder it has no value for', () => {
    expect(() => renderSlurmScript('#!/bin/bash\n{{partition_typo}}\n', job())).toThrow(/unknown placeholder/)
  })

  it('quotes paths with spaces and quotes so that sbatch and bash read them back', () => {
    const script = renderSlurmScript(TEMPLATE, job({ workDir: "/home/o'brien/my project" }))
    expect(script).toContain(`#SBATCH '--chdir=/home/o'\\''brien/my project'`)
  })
})

function bash(args: string[], script: string, env: Record<string, string> = {}) {
  return spawnSync('bash', [...args, '-s'], { input: script, encoding: 'utf8', env: { ...process.env, ...env } })
}
