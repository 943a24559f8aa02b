// GPU placement on the real Slurm testbed (gpu1, gpu2: 4×a100 each; gpu3: 2×v100), checked in what
// Slurm allocated (sacct NodeList and AllocTRES), not in rpo's store: a model that fits only the
// a100 (40 GB) lands on an a100 node; one that fits both lands on the best fit (v100, 16 GB) when it
// is free, and on an a100 when the v100s are busy; with every GPU busy, both types are offered
// (--constraint=v100|a100); one no GPU can hold is refused at validation
// with the largest GPU named. The catalog's v100 memory comes from the cluster's config.
import { appendFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { sacctSettled, testbedSsh, testbedWorkspace } from './testbed.js'

const ssh = testbedSsh()
afterAll(() => ssh.close())

/** The testbed workspace with the cluster's GPU types in its config (the v100s are the 16 GB model). */
function workspace(): string {
  const { dir } = testbedWorkspace()
  appendFileSync(
    path.join(dir, 'rpo.config.yaml'),
    '    gpus:\n      v100: { memory: 16G }\n      a100: { memory: 40G }\n',
  )
  return dir
}

const pipeline = (name: string, tasks: string) =>
  `name: ${name}\ndefaults:\n  framework: pytorch\n  resources: { partition: gpu, time: 2m }\ntasks:\n${tasks}`

interface RunTask {
  readonly id: string
  readonly jobId: string
  readonly state: string
}

async function runPipeline(dir: string, text: string): Promise<{ runId: string; tasks: RunTask[] }> {
  writePipeline(dir, 'pipeline.yaml', text)
  const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
  expect(result.code, result.stderr + result.stdout).toBe(0)
  return JSON.parse(result.stdout)
}

describe('GPU placement on Slurm', () => {
  it('puts a model that fits only the a100 on an a100 node, and a small one on the free v100 (best fit)', async () => {
    const dir = workspace()
    const { runId, tasks } = await runPipeline(
      dir,
      pipeline(
        'placement',
        // 1B params × 16 B (mixed-precision AdamW) ≈ 15 GB + margin ≈ 19 GB: over a v100's 16 GB
        `  big:
    command: echo "gpus=$CUDA_VISIBLE_DEVICES"
    model: { parameters: 1B }
    resources: { gpus: 1 }
  small:
    command: echo "gpus=$CUDA_VISIBLE_DEVICES"
    model: { parameters: 100M }
    resources: { gpus: 1, cpus: 1, memory: 500M }
`,
      ),
    )
    expect(tasks.map((t) => t.state)).toEqual(['succeeded', 'succeeded'])
    const rows = await sacctSettled(
      ssh,
      tasks.map((t) => t.jobId),
    )
    const byTask = new Map(rows.map((r) => [tasks.find((t) => t.jobId === r.jobId)?.id, r]))
    const big = byTask.get('big')
    expect(big?.nodes).toMatch(/^gpu[12]$/)
    expect(big?.allocTres).toContain('gres/gpu:a100=1')
    // pytorch's host defaults per GPU: 2 CPUs and 8 GB
    expect(big?.allocTres).toMatch(/(^|,)cpu=2,/)
    expect(big?.allocTres).toMatch(/(^|,)mem=8G(,|$)/)
    const small = byTask.get('small')
    expect(small?.nodes).toBe('gpu3')
    expect(small?.allocTres).toContain('gres/gpu:v100=1')

    const explained = await runCli(dir, ['explain', 'small', '--run', runId])
    expect(explained.code, explained.stderr).toBe(0)
    expect(explained.stdout).toMatch(
      /placement: GPUs: v100 — needs [\d.]+ GB per GPU \(100M params, mixed precision, adamw: 16 B\/param/,
    )
    expect(explained.stdout).toContain('chose v100: free now, best fit')
    // rpo compile shows the scripts with the same choice (all GPUs are free again now)
    const compiled = await runCli(dir, ['compile', 'pipeline.yaml'])
    expect(compiled.code, compiled.stderr).toBe(0)
    expect(compiled.stdout).toContain('--gres=gpu:a100:1')
    expect(compiled.stdout).toContain('--gres=gpu:v100:1')
    const bigExplained = await runCli(dir, ['explain', 'big', '--run', runId, '--json'])
    expect(JSON.parse(bigExplained.stdout).placement).toMatch(
      /^GPUs: a100 — needs 19 GB per GPU .*feasible: a100 \(40 GB/,
    )
  }, 120_000)

  it('takes a free a100 for the small model while both v100s are busy', async () => {
    const blocker = await ssh.exec([
      'sbatch',
      '--parsable',
      '-p',
      'gpu',
      '-w',
      'gpu3',
      '--gres=gpu:v100:2',
      '--time=3',
      '-J',
      'rpo-gpu-blocker',
      '--wrap',
      'sleep 170',
    ])
    const blockerId = blocker.stdout.trim()
    expect(blockerId, blocker.stderr).toMatch(/^\d+$/)
    try {
      for (let i = 0; i < 40; i++) {
        const state = await ssh.exec(['squeue', '-h', '-j', blockerId, '-o', '%T'])
        if (state.stdout.trim() === 'RUNNING') break
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      const dir = workspace()
      const { tasks } = await runPipeline(
        dir,
        pipeline(
          'placement-busy',
          `  small:
    command: "true"
    model: { parameters: 100M }
    resources: { gpus: 1, cpus: 1, memory: 500M }
`,
        ),
      )
      const [row] = await sacctSettled(ssh, [tasks[0]?.jobId as string])
      expect(row?.nodes).toMatch(/^gpu[12]$/)
      expect(row?.allocTres).toContain('gres/gpu:a100=1')
    } finally {
      await ssh.exec(['scancel', blockerId])
    }
  }, 120_000)

  it('with every GPU busy, offers both feasible types to Slurm (--constraint=v100|a100), best fit first', async () => {
    const blockers: string[] = []
    const dir = workspace()
    let runId: string | null = null
    try {
      for (const [node, gres] of [
        ['gpu1', 'gpu:a100:4'],
        ['gpu2', 'gpu:a100:4'],
        ['gpu3', 'gpu:v100:2'],
      ] as const) {
        const out = await ssh.exec(
          [
            'sbatch',
            '--parsable',
            '-p',
            'gpu',
            '-w',
            node,
            `--gres=${gres}`,
            '--time=3',
            '-J',
            'rpo-gpu-blocker',
          ].concat(['--wrap', 'sleep 170']),
        )
        expect(out.stdout.trim(), out.stderr).toMatch(/^\d+$/)
        blockers.push(out.stdout.trim())
      }
      for (let i = 0; i < 40; i++) {
        const states = await ssh.exec(['squeue', '-h', '-j', blockers.join(','), '-o', '%T'])
        if (
          states.stdout
            .trim()
            .split('\n')
            .every((s) => s === 'RUNNING')
        )
          break
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      writePipeline(
        dir,
        'pipeline.yaml',
        pipeline(
          'placement-wait',
          '  small:\n    command: "true"\n    model: { parameters: 100M }\n    resources: { gpus: 1, cpus: 1, memory: 500M }\n',
        ),
      )
      const submitted = await runCli(dir, ['submit', 'pipeline.yaml', '--json'])
      expect(submitted.code, submitted.stderr).toBe(0)
      runId = (JSON.parse(submitted.stdout) as { runId: string }).runId
      let line: string | undefined
      for (let i = 0; i < 30 && line === undefined; i++) {
        const sync = await runCli(dir, ['sync'])
        expect(sync.code, sync.stderr).toBe(0)
        const queued = await ssh.exec(['squeue', '-h', '-u', 'rpotest', '-o', '%j|%T|%f'])
        line = queued.stdout.split('\n').find((l) => l.startsWith(`rpo.${runId}.small.`))
      }
      // pending, asking for any one of the two feasible types, the best fit first
      expect(line).toMatch(/\|PENDING\|\[?v100\|a100\]?$/)
      const explained = await runCli(dir, ['explain', 'small', '--run', runId])
      expect(explained.stdout).toContain('none free now: any of v100|a100, whichever the scheduler starts first')
    } finally {
      if (runId !== null) await runCli(dir, ['cancel', runId])
      if (blockers.length > 0) await ssh.exec(['scancel', ...blockers])
    }
  }, 120_000)

  it('refuses at validation a model no GPU of the cluster can hold, naming the largest GPU; warns about sklearn', async () => {
    const dir = workspace()
    writePipeline(
      dir,
      'huge.yaml',
      pipeline('huge', '  train:\n    command: "true"\n    model: { parameters: 7B }\n    resources: { gpus: 1 }\n'),
    )
    const refused = await runCli(dir, ['validate', 'huge.yaml'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(
      'tasks.train.resources: needs 126 GB per GPU (7B params, mixed precision, adamw: 16 B/param + activation margin → 126 GB per GPU), but the largest GPU of the cluster is a100 with 40 GB (cluster "testbed")',
    )
    writePipeline(
      dir,
      'forest.yaml',
      'name: forest\ntasks:\n  fit:\n    framework: sklearn\n    command: "true"\n    resources: { partition: gpu, gpus: 2, time: 1m }\n',
    )
    const warned = await runCli(dir, ['validate', 'forest.yaml'])
    expect(warned.code, warned.stderr).toBe(0)
    expect(warned.stderr).toContain(
      'tasks.fit.resources.gpus: sklearn runs on CPUs; the task is submitted without GPUs',
    )
  }, 60_000)
})
