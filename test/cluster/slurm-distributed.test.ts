// Distributed launchers and software environments, live on the Slurm testbed through `rpo run`:
// a 2-node PyTorch DDP run (torchrun, gloo on CPUs, Debian's torch) ends at the loss of a single
// process on the same seed; a 2-node mpi4py job reduces over ranks on both nodes; Lmod modules
// load in order before the setup lines. The workloads are in ./workloads; what the testbed needs
// for them (node names in /etc/hosts, OpenMPI, Lmod modulefiles) is set up by up.sh.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, writePipeline } from '../support/cli-harness.js'
import { cancelJobsUnder, type SacctRow, sacctByJobIds, testbedSsh, testbedWorkspace } from './testbed.js'

const WORKLOADS = path.join(import.meta.dirname, 'workloads')
const PYTHON = '/usr/bin/python3'
const ssh = testbedSsh()
const remoteDirs: string[] = []

afterAll(() => cancelJobsUnder(ssh, remoteDirs))

interface TaskProgress {
  readonly id: string
  readonly state: string
  readonly jobId: string
  readonly reason?: string | null
  readonly outputs: Record<string, unknown> | null
}

async function workspaceWith(...workloads: string[]): Promise<{ dir: string; remoteDir: string }> {
  const workspace = testbedWorkspace()
  remoteDirs.push(workspace.remoteDir)
  for (const file of workloads) {
    await ssh.writeFile(`${workspace.remoteDir}/${file}`, readFileSync(path.join(WORKLOADS, file), 'utf8'))
  }
  return workspace
}

async function run(dir: string): Promise<{ code: number; tasks: Map<string, TaskProgress>; output: string }> {
  const result = await runCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
  const output = result.stderr + result.stdout
  let tasks: TaskProgress[] = []
  try {
    tasks = (JSON.parse(result.stdout) as { tasks: TaskProgress[] }).tasks
  } catch {
    throw new Error(`rpo run printed no progress JSON (exit ${result.code}): ${output}`)
  }
  return { code: result.code, tasks: new Map(tasks.map((t) => [t.id, t])), output }
}

/**
 * The job's accounting row once slurmdbd has its final node list: right after a multi-node job
 * ends, sacct may still show only its first node for a few seconds (README, quirks).
 */
async function settledRow(jobId: string, nodeCount: number, timeoutMs = 20_000): Promise<SacctRow | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const row = (await sacctByJobIds(ssh, [jobId]))[0]
    if ((row && row.end > 0 && expandNodeList(row.nodes).length === nodeCount) || Date.now() > deadline) return row
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** `cpu[1-2]` → cpu1, cpu2; `gpu[1,3]` → gpu1, gpu3 (the testbed's node names only). */
function expandNodeList(list: string): string[] {
  const match = /^([a-z]+)\[([\d,-]+)\]$/.exec(list)
  if (!match) return list === '' || list === 'None assigned' ? [] : list.split(',')
  return (match[2] as string).split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number) as [number, number?]
    return Array.from({ length: (to as number) - from + 1 }, (_, i) => `${match[1]}${from + i}`)
  })
}

/** The task's stderr on the cluster (`<jobDir>/slurm-<job id>.err`). */
async function jobStderr(remoteDir: string, jobId: string): Promise<string> {
  const found = await ssh.execScript(`cat $(find ${remoteDir} -name 'slurm-${jobId}.err') 2>/dev/null || true`, {
    timeoutMs: 10_000,
  })
  return found.stdout
}

interface RankRecord {
  readonly rank: number
  readonly node: string
  readonly nodeId: string
  readonly localRank?: number
}

// The three share nothing but the cluster: DDP on the cpu partition, MPI on the gpu partition,
// the modules on whatever is free. They run side by side.
describe.concurrent('distributed jobs and software environments on Slurm, live', () => {
  it('2-node PyTorch DDP runs through torchrun (gloo on CPUs; one and two trainers per node) end at the loss of one process on the same seed', async () => {
    const { dir } = await workspaceWith('ddp_regression.py')
    const train = `exec ${PYTHON} ddp_regression.py --out "$RPO_OUTPUT_DIR/ranks"`
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: ddp
defaults:
  resources: { partition: cpu, time: 5m, memory: 2G }
tasks:
  single:
    framework: pytorch
    command: ${JSON.stringify(train)}
    resources: { cpus: 1 }
  ddp:
    framework: pytorch-ddp
    command: ${JSON.stringify(train)}
    resources: { nodes: 2, cpus: 2 }
    # Debian's torchrun 1.13 on Python 3.11 crashes on its own --redirects/--tee default "0"
    # (Python 3.11 no longer lists the zero IntFlag member); these mean "none" too (README)
    env: &torchrun-env { PET_REDIRECTS: "9:1", PET_TEE: "9:1" }
  ddp-gpus:
    framework: pytorch-ddp
    command: ${JSON.stringify(train)}
    # one trainer per GPU: the testbed's GPUs are fake, so gloo still trains on the CPUs
    resources: { partition: gpu, nodes: 2, cpus: 4, gpus: { count: 2, type: a100 } }
    env: *torchrun-env
`,
    )
    const { code, tasks, output } = await run(dir)
    expect(code, output).toBe(0)
    const single = tasks.get('single')?.outputs as { finalLoss: number; initialLoss: number; worldSize: number }
    const ddp = tasks.get('ddp')?.outputs as {
      finalLoss: number
      initialLoss: number
      worldSize: number
      ranks: RankRecord[]
    }
    expect(single.worldSize).toBe(1)
    expect(ddp.worldSize).toBe(2)
    // training did something, and the same thing: float64, so agreement far below any real difference
    expect(ddp.initialLoss).toBe(single.initialLoss)
    expect(single.finalLoss).toBeLessThan(single.initialLoss / 2)
    expect(Math.abs(ddp.finalLoss - single.finalLoss)).toBeLessThanOrEqual(1e-12 * single.finalLoss)

    // one torchrun per node: rank 0 on the first node, rank 1 on the second
    const ranks = [...ddp.ranks].sort((a, b) => a.rank - b.rank)
    expect(ranks.map((r) => [r.rank, r.nodeId])).toEqual([
      [0, '0'],
      [1, '1'],
    ])
    expect(new Set(ranks.map((r) => r.node))).toEqual(new Set(['cpu1', 'cpu2']))

    const row = await settledRow(tasks.get('ddp')?.jobId as string, 2)
    expect(row?.state).toBe('COMPLETED')
    expect(expandNodeList(row?.nodes ?? '')).toEqual(['cpu1', 'cpu2'])
    expect(row?.allocTres).toContain('node=2')

    // two trainers per node (one per GPU): world 4, ranks 0-1 on the first node, 2-3 on the second
    const gpus = tasks.get('ddp-gpus')?.outputs as typeof ddp
    expect(gpus.worldSize).toBe(4)
    expect(Math.abs(gpus.finalLoss - single.finalLoss)).toBeLessThanOrEqual(1e-12 * single.finalLoss)
    const gpuRanks = [...gpus.ranks].sort((a, b) => a.rank - b.rank)
    expect(gpuRanks.map((r) => [r.rank, r.nodeId, r.localRank])).toEqual([
      [0, '0', 0],
      [1, '0', 1],
      [2, '1', 0],
      [3, '1', 1],
    ])
    const gpuRow = await settledRow(tasks.get('ddp-gpus')?.jobId as string, 2)
    expect(gpuRow?.state).toBe('COMPLETED')
    expect(gpuRow?.allocTres).toContain('gres/gpu:a100=4')
    expect(expandNodeList(gpuRow?.nodes ?? '')).toEqual([...new Set(gpuRanks.map((r) => r.node))].sort())
    expect(expandNodeList(gpuRow?.nodes ?? '')).toHaveLength(2)
  }, 240_000)

  it('a 2-node mpi4py job through the MPI template: 2 ranks on each node, one allreduce over all 4', async () => {
    const { dir } = await workspaceWith('mpi_allreduce.py')
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: mpi
tasks:
  ranks:
    framework: mpi
    command: exec ${PYTHON} mpi_allreduce.py
    resources: { partition: gpu, nodes: 2, cpus: 2, time: 5m, memory: 1G }
`,
    )
    const { code, tasks, output } = await run(dir)
    expect(code, output).toBe(0)
    const result = tasks.get('ranks')?.outputs as { size: number; sum: number; ranks: RankRecord[] }
    // one rank per CPU without GPUs: 2 per node
    expect(result.size).toBe(4)
    expect(result.sum).toBe(0 + 1 + 2 + 3)
    const perNode = new Map<string, number>()
    for (const r of result.ranks) perNode.set(r.node, (perNode.get(r.node) ?? 0) + 1)
    expect([...perNode.values()]).toEqual([2, 2])
    expect(new Set(result.ranks.map((r) => r.nodeId))).toEqual(new Set(['0', '1']))

    const row = await settledRow(tasks.get('ranks')?.jobId as string, 2)
    expect(row?.state).toBe('COMPLETED')
    expect(expandNodeList(row?.nodes ?? '').sort()).toEqual([...perNode.keys()].sort())
  }, 240_000)

  it('loads Lmod modules in order before the setup lines, in a batch shell without `module`; an unknown module fails the task naming it', async () => {
    const { dir, remoteDir } = await workspaceWith()
    // what the task sees, as its outputs
    const report =
      'printf \'{"order":"%s","orderAtSetup":"%s","tool":"%s","version":"%s","data":"%s","setup":"%s"}\' ' +
      '"$RPO_MODULE_ORDER" "$ORDER_AT_SETUP" "$(rpotool)" "$RPOTOOL_VERSION" "$RPODATA_DIR" "$SETUP_TRACE" > "$RPO_OUTPUTS"'
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: modules
defaults:
  resources: { time: 2m, memory: 100M }
tasks:
  tools:
    command: ${JSON.stringify(report)}
    environment:
      modules: [rpotool/1.0, rpodata/1.0]
      setup:
        - export ORDER_AT_SETUP="$RPO_MODULE_ORDER"
        - export SETUP_TRACE=first
        - SETUP_TRACE="$SETUP_TRACE,second"
  newer:
    command: ${JSON.stringify(report)}
    environment: { modules: [rpotool/2.0], setup: ["export SETUP_TRACE=only"] }
  unknown:
    command: touch "$RPO_OUTPUT_DIR/ran"
    environment: { modules: [nosuch/9.9] }
`,
    )
    const { code, tasks, output } = await run(dir)
    expect(code, output).toBe(1)
    expect(tasks.get('tools')?.outputs).toEqual({
      order: 'rpotool/1.0:rpodata/1.0',
      orderAtSetup: 'rpotool/1.0:rpodata/1.0',
      tool: 'rpotool 1.0',
      version: '1.0',
      data: '/var/lib/rpo-testbed/tools/rpodata',
      setup: 'first,second',
    })
    expect(tasks.get('newer')?.outputs).toMatchObject({ order: 'rpotool/2.0', tool: 'rpotool 2.0', data: '' })

    const unknown = tasks.get('unknown') as TaskProgress
    expect(unknown.state).toBe('failed')
    const stderr = await jobStderr(remoteDir, unknown.jobId)
    expect(stderr).toContain('nosuch/9.9')
    const ran = await ssh.execScript(`ls ${remoteDir}/runs/*/unknown/ran 2>/dev/null || echo none`, {
      timeoutMs: 10_000,
    })
    expect(ran.stdout.trim()).toBe('none')
  }, 180_000)
})
