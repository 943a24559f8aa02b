import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  buildPbsEnvExports,
  PBS_JOB_TEMPLATE_FILE,
  type PbsScriptOptions,
  renderPbsScript,
} from '../../../adapters/pbs/pbs-script.js'
import { RpoError } from '../../../src/core/errors.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobSubmission,
  type ResourceRequest,
} from '../../../src/scheduler/scheduler-adapter.js'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const TEMPLATE = readFileSync(join(ROOT, PBS_JOB_TEMPLATE_FILE), 'utf8')
const GOLDEN = join(import.meta.dirname, 'golden')
const WORK = mkdtempSync(join(tmpdir(), 'rpo-pbs-script-'))
afterAll(() => rmSync(WORK, { recursive: true, force: true }))

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

const PBSPRO_GPU_TRAIN = job({
  submissionKey: asSubmissionKey('r20240501-ab12.train.2'),
  taskId: 'train',
  attempt: 2,
  command: 'torchrun --nproc-per-node=2 train.py --config "configs/resnet 50.yaml" --resume',
  jobDir: '/home/alice/.rpo/runs/r20240501-ab12/train/2',
  env: {
    RPO_RUN_ID: 'r20240501-ab12',
    RPO_OUTPUT_DIR: '/scratch/alice/r20240501-ab12/train',
    WANDB_NOTES: "it's the lr=3e-4 run",
  },
  resources: {
    cpus: 16,
    memoryMb: 64_000,
    timeLimitSeconds: 86_400 + 1_800,
    gpus: { count: 2, types: ['a100'] },
    nodes: 1,
  },
  dependsOn: [
    {
      submissionKey: asSubmissionKey('r20240501-ab12.preprocess.1'),
      jobId: asNativeJobId('1201.pbs-srv'),
      condition: 'succeeded',
    },
    {
      submissionKey: asSubmissionKey('r20240501-ab12.tokenize.1'),
      jobId: asNativeJobId('1202.pbs-srv'),
      condition: 'succeeded',
    },
    {
      submissionKey: asSubmissionKey('r20240501-ab12.stats.1'),
      jobId: asNativeJobId('1203.pbs-srv'),
      condition: 'finished',
    },
    // submitted earlier in the same batch: wired on the qsub command line, not in the script
    { submissionKey: asSubmissionKey('r20240501-ab12.vocab.1'), jobId: null, condition: 'succeeded' },
  ],
  partition: 'gpu',
})

const TORQUE_CPU = job({ env: { RPO_RUN_ID: 'r20240501-ab12', DATA_ROOT: '/data/shared sets/imagenet' } })

const OPENPBS_MULTI_NODE = job({
  submissionKey: asSubmissionKey('r20240501-ab12.ddp.1'),
  taskId: 'ddp',
  command:
    'torchrun --nnodes=4 --nproc-per-node=4 --rdzv-backend=c10d --rdzv-endpoint="$(head -n1 "$PBS_NODEFILE"):29500" train.py',
  jobDir: '/home/alice/.rpo/runs/r20240501-ab12/ddp/1',
  env: {},
  resources: { cpus: 8, memoryMb: 32_000, timeLimitSeconds: 4 * 3_600, gpus: { count: 4, types: [] }, nodes: 4 },
  project: null,
})

const CASES: [string, JobSubmission, PbsScriptOptions][] = [
  [
    'pbspro-gpu-task-with-deps.pbs',
    PBSPRO_GPU_TRAIN,
    { flavor: 'pbspro', gpuTypeResource: 'gputype', signal: { name: 'USR2', leadSeconds: 300 }, rerunnable: true },
  ],
  ['torque-cpu-task.pbs', TORQUE_CPU, { flavor: 'torque', queue: 'batch', rerunnable: false }],
  [
    'openpbs-multi-node.pbs',
    OPENPBS_MULTI_NODE,
    { flavor: 'openpbs', account: 'default', queue: 'workq', priority: 100 },
  ],
]

describe('renderPbsScript golden files', () => {
  it.each(CASES)('%s', (file, submission, options) => {
    const rendered = renderPbsScript(TEMPLATE, submission, options)
    const path = join(GOLDEN, file)
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) writeFileSync(path, rendered)
    expect(rendered).toBe(readFileSync(path, 'utf8'))
    expect(bash(['-n'], rendered).status).toBe(0)
  })
})

describe('renderPbsScript for a checkpointing task', () => {
  const checkpointed = job({
    checkpoint: { signal: 'USR2', leadSeconds: 120, maxRestarts: 5 },
    hold: true,
    resources: { ...CPU, timeLimitSeconds: 3600 },
  })
  const script = renderPbsScript(TEMPLATE, checkpointed, { flavor: 'torque', rerunnable: false })

  it('is rerunnable, held when a budget says so, and warned by its own timer before the walltime', () => {
    const directives = script.split('\n').filter((l) => l.startsWith('#PBS '))
    expect(directives).toEqual(expect.arrayContaining(['#PBS -r y', '#PBS -h']))
    expect(directives).not.toContain('#PBS -r n')
    expect(script).toContain(`( sleep 3480 && kill -s USR2 "$$" ) </dev/null >/dev/null 2>&1 &`)
  })

  it('finds the checkpoint helper rpo staged beside the job folders', () => {
    expect(script).toMatch(/^export RPO_CHECKPOINT_LIB=\S+\/\.rpo-lib\/checkpoint-[0-9a-f]{12}$/m)
    expect(script).toMatch(
      /^export PYTHONPATH=\S+\/\.rpo-lib\/checkpoint-[0-9a-f]{12}"\$\{PYTHONPATH:\+:\$PYTHONPATH\}"$/m,
    )
  })
})

describe('renderPbsScript resource mapping', () => {
  const directives = (submission: JobSubmission, options: PbsScriptOptions) =>
    renderPbsScript(TEMPLATE, submission, options)
      .split('\n')
      .filter((line) => line.startsWith('#PBS '))
      .map((line) => line.slice('#PBS '.length))

  it('keeps a key that fits the flavor limit as the job name, without the variable', () => {
    const lines = directives(job(), { flavor: 'pbspro' })
    expect(lines).toContain('-N r20240501-ab12.preprocess.1')
    expect(lines.some((line) => line.startsWith('-v '))).toBe(false)
  })

  it('shortens a key that does not fit and carries it in RPO_SUBMISSION_KEY', () => {
    const lines = directives(job(), { flavor: 'torque' })
    expect(lines.find((line) => line.startsWith('-N '))).toMatch(/^-N rpo-[0-9a-f]{8}$/)
    expect(lines).toContain('-v RPO_SUBMISSION_KEY=r20240501-ab12.preprocess.1')
    expect(directives(job(), { flavor: 'torque', maxJobNameLength: 64 })).toContain('-N r20240501-ab12.preprocess.1')
  })

  it('prefers the job partition and project over the cluster defaults', () => {
    const lines = directives(job({ partition: 'gpu' }), { flavor: 'pbspro', queue: 'workq', account: 'other' })
    expect(lines).toEqual(expect.arrayContaining(['-q gpu', '-A vision']))
  })

  it('asks for untyped GPUs without a type resource, and refuses several types', () => {
    const untyped = directives(job({ resources: { ...CPU, gpus: { count: 1, types: [] } } }), {
      flavor: 'pbspro',
      gpuResource: 'gpus',
    })
    expect(untyped).toContain('-l select=1:ncpus=4:mem=8000mb:gpus=1')
    expect(
      directives(job({ resources: { ...CPU, gpus: { count: 0, types: ['a100'] } } }), { flavor: 'pbspro' }).join(' '),
    ).not.toMatch(/gpu/)
    expect(() =>
      renderPbsScript(TEMPLATE, job({ resources: { ...CPU, gpus: { count: 1, types: ['a100', 'v100'] } } }), {
        flavor: 'pbspro',
        gpuTypeResource: 'gputype',
      }),
    ).toThrow(/several GPU types/)
  })

  it('waits for the whole array when an upstream is an array instance (PBS Pro plain types, Torque *array)', () => {
    const afterInstance = job({
      dependsOn: [
        {
          submissionKey: asSubmissionKey('r.train.2.1'),
          jobId: asNativeJobId('1190[2].pbs-srv'),
          condition: 'succeeded',
        },
        {
          submissionKey: asSubmissionKey('r.train.3.1'),
          jobId: asNativeJobId('1190[3].pbs-srv'),
          condition: 'succeeded',
        },
        { submissionKey: asSubmissionKey('r.prep.1'), jobId: asNativeJobId('1189.pbs-srv'), condition: 'succeeded' },
      ],
    })
    expect(directives(afterInstance, { flavor: 'pbspro' })).toContain('-W depend=afterok:1190[].pbs-srv:1189.pbs-srv')
    expect(directives(afterInstance, { flavor: 'torque' })).toContain(
      '-W depend=afterokarray:1190[].pbs-srv,afterok:1189.pbs-srv',
    )
  })

  it('adds an array request in the flavor spelling', () => {
    expect(
      directives(job(), { flavor: 'pbspro', array: { indices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], maxConcurrent: 2 } }),
    ).toContain('-J 0-9%2')
    expect(directives(job(), { flavor: 'torque', array: { indices: [0, 1, 2, 5] } })).toContain('-t 0-2,5')
  })
})

describe('renderPbsScript with hostile values', () => {
  const HOSTILE = ["'; rm -rf / #", '$(whoami)', '`id`', 'line1\nline2', '"$HOME" \\ %s !! *', '']

  it('exports env values that bash reads back literally', () => {
    const env = Object.fromEntries(HOSTILE.map((value, index) => [`HOSTILE_${index}`, value]))
    const script = renderPbsScript(TEMPLATE, job({ env }), { flavor: 'pbspro' })
    expect(bash(['-n'], script).status).toBe(0)
    const exportPart = script.slice(script.indexOf('\nexport ') + 1, script.indexOf('\ncd -- '))
    expect(exportPart).toBe(`${buildPbsEnvExports(env).join('\n')}\n`)
    const printer = HOSTILE.map((_, index) => `printf '%s\\0' "$HOSTILE_${index}"`).join('\n')
    const result = bash([], `${exportPart}${printer}\n`)
    expect(result.status).toBe(0)
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(HOSTILE)
  })

  it('runs the command exactly as written, in the work directory, one quoted word for bash -c', () => {
    const workDir = join(WORK, "o'brien dir $(id)")
    spawnSync('mkdir', ['-p', workDir])
    const command = `cat <<'EOF'\n'; rm -rf / #\n$(whoami) \`id\`\nEOF\npwd`
    const script = renderPbsScript(TEMPLATE, job({ command, workDir, env: { MARK: '$(whoami)' } }), {
      flavor: 'torque',
    })
    expect(bash(['-n'], script).status).toBe(0)
    const result = bash([], script)
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`'; rm -rf / #\n$(whoami) \`id\`\n${workDir}\n`)
  })

  it('creates RPO_OUTPUT_DIR when it is set, and sends the checkpoint signal before the walltime', () => {
    const outputDir = join(WORK, 'out dir', 'nested')
    const submission = job({
      workDir: WORK,
      env: { RPO_OUTPUT_DIR: outputDir },
      command: "trap 'echo got-usr1; exit 0' USR1; sleep 5 >/dev/null 2>&1 & wait",
      resources: { ...CPU, timeLimitSeconds: 3 },
    })
    const script = renderPbsScript(TEMPLATE, submission, {
      flavor: 'pbspro',
      signal: { name: 'SIGUSR1', leadSeconds: 2 },
    })
    const result = bash([], script)
    expect(result.stdout).toBe('got-usr1\n')
    expect(result.status).toBe(0)
    expect(existsSync(outputDir)).toBe(true)
  })

  it('rejects hostile names instead of quoting them', () => {
    const rejected = [
      () => renderPbsScript(TEMPLATE, job({ submissionKey: asSubmissionKey("x'; rm -rf / #") }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ submissionKey: asSubmissionKey('a\n#PBS -u root') }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ partition: '$(whoami)' }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ project: '`id`' }), { flavor: 'torque' }),
      () => renderPbsScript(TEMPLATE, job(), { flavor: 'pbspro', queue: 'a b' }),
      () => renderPbsScript(TEMPLATE, job({ env: { 'BAD-NAME': 'x' } }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ env: { 'X=$(id)': 'x' } }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ env: { OK: 'nul\0byte' } }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ workDir: '/tmp/a\0b' }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ jobDir: '/tmp/a\n#PBS -u root' }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ jobDir: '/tmp/my logs' }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ jobDir: 'host:/tmp/logs' }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ jobDir: "/tmp/it's" }), { flavor: 'pbspro' }),
      () =>
        renderPbsScript(TEMPLATE, job({ resources: { ...CPU, gpus: { count: 1, types: ['a100:ngpus=8'] } } }), {
          flavor: 'pbspro',
          gpuTypeResource: 'gputype',
        }),
      () =>
        renderPbsScript(TEMPLATE, job({ resources: { ...CPU, gpus: { count: 1, types: ['a100'] } } }), {
          flavor: 'pbspro',
          gpuTypeResource: 'gpu:type',
        }),
      () => renderPbsScript(TEMPLATE, job({ resources: { ...CPU, timeLimitSeconds: 0 } }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ resources: { ...CPU, cpus: 1.5 } }), { flavor: 'pbspro' }),
      () => renderPbsScript(TEMPLATE, job({ resources: { ...CPU, nodes: 0 } }), { flavor: 'torque' }),
      () => renderPbsScript(TEMPLATE, job(), { flavor: 'pbspro', signal: { name: 'USR2;id', leadSeconds: 60 } }),
      () => renderPbsScript(TEMPLATE, job(), { flavor: 'pbspro', signal: { name: 'USR2', leadSeconds: 7_200 } }),
      () => renderPbsScript(TEMPLATE, job(), { flavor: 'pbspro', priority: 5_000 }),
      () => renderPbsScript(TEMPLATE, job(), { flavor: 'pbspro', array: { indices: [3, 1] } }),
      () => renderPbsScript(TEMPLATE, job(), { flavor: 'pbspro', streams: { stdout: 'rel/out', stderr: '/e' } }),
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
    expect(() => renderPbsScript('#!/bin/bash\n{{queue_typo}}\n', job(), { flavor: 'pbspro' })).toThrow(
      /unknown placeholder/,
    )
    expect(() => renderPbsScript('#!/bin/bash\n{{constructor}}\n', job(), { flavor: 'pbspro' })).toThrow(
      /unknown placeholder/,
    )
  })
})

function bash(args: string[], script: string) {
  return spawnSync('bash', [...args, '-s'], { input: script, encoding: 'utf8', timeout: 20_000 })
}
