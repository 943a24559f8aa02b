// A checkpoint signal reaches every trainer through the launcher, live on the Slurm testbed (issue
// #13): a 2-node PyTorch DDP task (torchrun, gloo on CPUs, Debian's torch) and a 2-node mpi4py task
// (srun --mpi=pmix), each with a `checkpoint:` block, run through `rpo run`; once every rank is
// running, `rpo checkpoint <task>` signals the job's batch shell (`scancel --batch --signal=USR2`),
// which passes it on to srun, srun to slurmstepd on both nodes, slurmstepd to every process of the
// step (torchrun ignores it, its workers handle it). Every rank's handler leaves a mark, the job ends
// with the checkpoint exit (85; under torchrun through the launch's checkpoint mark, since torchrun
// itself reports 1), rpo records it as a checkpoint and resumes the task in a second attempt that
// loads the checkpoint and finishes. The stub-launcher version is test/script/launch-end-to-end.test.ts;
// the workloads are in ./workloads.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, type SpawnedCli, spawnCli, writePipeline } from '../support/cli-harness.js'
import { cancelJobsUnder, testbedSsh, testbedWorkspace } from './testbed.js'

const WORKLOADS = path.join(import.meta.dirname, 'workloads')
const PYTHON = '/usr/bin/python3'
const ssh = testbedSsh()
const remoteDirs: string[] = []

afterAll(() => cancelJobsUnder(ssh, remoteDirs))

interface TaskProgress {
  readonly id: string
  readonly state: string
  readonly attempt: number
  readonly jobId: string
  readonly outputs: Record<string, unknown> | null
}

/** What a rank wrote into its mark file (workloads/*_checkpoint.py). */
interface RankMark {
  readonly rank: number
  readonly attempt: number
  readonly node: string
  readonly nodeId: string
  readonly pid: number
  readonly signal?: string
  readonly step?: number
  readonly startStep?: number
}

interface HelperEvent {
  readonly event: string
  readonly attempt: number
  readonly pid: number
  readonly step?: number
  readonly code?: number
  readonly signal?: string
}

interface RpoEvent {
  readonly type: string
  readonly taskId: string | null
  readonly payload: Record<string, unknown>
}

async function workspaceWith(workload: string): Promise<{ dir: string; remoteDir: string }> {
  const workspace = testbedWorkspace({ pollInterval: '500ms' })
  remoteDirs.push(workspace.remoteDir)
  // the workload and the module its ranks leave their marks with, beside it
  for (const file of [workload, 'rank_marks.py'])
    await ssh.writeFile(`${workspace.remoteDir}/${file}`, readFileSync(path.join(WORKLOADS, file), 'utf8'))
  return workspace
}

/** The mark files `<kind>-attempt-<attempt>-rank-*.json` of a task, by rank. */
async function marks(remoteDir: string, taskId: string, kind: string, attempt: number): Promise<RankMark[]> {
  const read = await ssh.execScript(
    `for f in ${remoteDir}/runs/*/${taskId}/rank-marks/${kind}-attempt-${attempt}-rank-*.json; do [ -e "$f" ] && cat "$f" && echo; done; true`,
    { timeoutMs: 10_000 },
  )
  return read.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RankMark)
    .sort((a, b) => a.rank - b.rank)
}

/** The task's stderr on the cluster, every attempt (`<jobDir>/slurm-<job id>.err`): for failure messages. */
async function jobStderr(remoteDir: string): Promise<string> {
  const found = await ssh.execScript(`tail -n 40 $(find ${remoteDir}/jobs -name 'slurm-*.err') 2>/dev/null || true`, {
    timeoutMs: 10_000,
  })
  return found.stdout
}

/** Wait until all `ranks` ranks of the task's first attempt made a step with their handler installed. */
async function waitForRanks(
  run: SpawnedCli,
  remoteDir: string,
  taskId: string,
  ranks: number,
  timeoutMs = 180_000,
): Promise<RankMark[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const running = await marks(remoteDir, taskId, 'running', 1)
    if (running.length === ranks) return running
    if (run.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `${running.length} of ${taskId}'s ${ranks} ranks got going (rpo run ${run.child.exitCode === null ? 'still running' : `exited ${run.child.exitCode}`}):\n${run.stderr()}${run.stdout()}\n${await jobStderr(remoteDir)}`,
      )
    }
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** `rpo checkpoint <task>`, once rpo's own poll has seen the job running (it refuses before). */
async function askToCheckpoint(dir: string, taskId: string): Promise<{ jobId: string; attempt: number }> {
  for (let i = 0; ; i++) {
    const asked = await runCli(dir, ['checkpoint', taskId, '--json'])
    if (asked.code === 0) {
      const request = JSON.parse(asked.stdout) as { taskId: string; jobId: string; attempt: number; signal: string }
      expect(request).toMatchObject({ taskId, attempt: 1, signal: 'USR2' })
      return request
    }
    if (!/cannot checkpoint now/.test(asked.stderr) || i >= 20)
      throw new Error(`rpo checkpoint failed: ${asked.stderr}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

async function helperEvents(remoteDir: string, taskId: string): Promise<HelperEvent[]> {
  const read = await ssh.execScript(`cat ${remoteDir}/runs/*/${taskId}/checkpoints/events.jsonl`, {
    timeoutMs: 10_000,
  })
  return read.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as HelperEvent)
}

async function rpoEvents(dir: string, taskId: string): Promise<RpoEvent[]> {
  const listed = await runCli(dir, ['events', '--after', '0', '--json'])
  expect(listed.code, listed.stderr).toBe(0)
  return listed.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RpoEvent)
    .filter((e) => e.taskId === taskId)
}

/** Slurm's own word on how the job ended: `STATE|exit:signal` of its allocation row (sacct lags squeue). */
async function sacctEnding(jobId: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const shown = await ssh.exec(
      ['sacct', '-X', '--noheader', '--parsable2', `--jobs=${jobId}`, '--format=State,ExitCode'],
      {
        idempotent: true,
      },
    )
    const row = shown.stdout.trim()
    if ((row !== '' && !/^(PENDING|RUNNING|REQUEUED)\|/.test(row)) || Date.now() > deadline) return row
    await new Promise((r) => setTimeout(r, 500))
  }
}

/**
 * Run the task through `rpo run`, checkpoint it through `rpo checkpoint` once all its ranks are
 * running, and check what every layer saw: each rank's handler, the job's exit, rpo's record and
 * resume, the helper's events. Returns the finished task and its ranks' marks.
 */
async function checkpointThroughLauncher(
  dir: string,
  remoteDir: string,
  taskId: string,
  ranks: number,
): Promise<{ task: TaskProgress; running: RankMark[]; savedStep: number }> {
  const run = spawnCli(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
  try {
    const running = await waitForRanks(run, remoteDir, taskId, ranks)
    const request = await askToCheckpoint(dir, taskId)
    const { code, stdout, stderr } = await run.closed()
    expect(code, `${stderr}${stdout}\n${await jobStderr(remoteDir)}`).toBe(0)
    const task = (JSON.parse(stdout) as { tasks: TaskProgress[] }).tasks.find((t) => t.id === taskId) as TaskProgress
    expect(task).toMatchObject({ state: 'succeeded', attempt: 2 })
    expect(task.jobId).not.toBe(request.jobId)

    // every rank's own handler ran, in the process that was training (not a restarted one)
    const signalled = await marks(remoteDir, taskId, 'signal', 1)
    expect(
      signalled.map((m) => [m.rank, m.signal, m.pid]),
      await jobStderr(remoteDir),
    ).toEqual(running.map((m) => [m.rank, 'SIGUSR2', m.pid]))
    expect(await marks(remoteDir, taskId, 'signal', 2)).toEqual([])

    // the job ended with the checkpoint exit, in Slurm's accounting and in rpo's record
    expect(await sacctEnding(request.jobId)).toBe('FAILED|85:0')
    const events = await rpoEvents(dir, taskId)
    const firstEnd = events.filter(
      (e) => e.type === 'attempt.state' && e.payload.attempt === 1 && e.payload.to !== 'submitting',
    )
    expect(firstEnd.at(-1)?.payload).toMatchObject({ jobId: request.jobId, to: 'failed', exitCode: 85 })
    const resumed = events.filter((e) => e.type === 'attempt.resumed')
    expect(resumed).toHaveLength(1)
    expect(resumed[0]?.payload).toMatchObject({ exitCode: 85, resumes: 1 })
    expect(resumed[0]?.payload.reason).toMatch(/checkpointed and asked to be resumed \(exit 85\)/)
    expect(events.filter((e) => e.type === 'task.state').at(-1)?.payload).toMatchObject({ to: 'succeeded' })

    // the helper: every rank saw the signal and exited 85; rank 0 saved once; every rank of the
    // second attempt loaded that checkpoint
    const helper = await helperEvents(remoteDir, taskId)
    const first = helper.filter((e) => e.attempt === 1)
    const pids = running.map((m) => m.pid).sort()
    expect(
      first
        .filter((e) => e.event === 'checkpoint:signal')
        .map((e) => e.pid)
        .sort(),
    ).toEqual(pids)
    const exits = first.filter((e) => e.event === 'checkpoint:exit')
    expect(exits.map((e) => e.pid).sort()).toEqual(pids)
    expect(exits.every((e) => e.code === 85)).toBe(true)
    const saved = first.filter((e) => e.event === 'checkpoint:saved')
    expect(saved).toHaveLength(1)
    const savedStep = saved[0]?.step as number
    expect(savedStep).toBeGreaterThanOrEqual(1)
    const loaded = helper.filter((e) => e.attempt === 2 && e.event === 'checkpoint:loaded')
    expect(loaded).toHaveLength(ranks)
    expect(loaded.every((e) => e.step === savedStep)).toBe(true)
    return { task, running, savedStep }
  } finally {
    run.child.kill('SIGTERM')
  }
}

// The two share nothing but the cluster: DDP on the gpu partition, MPI on the cpu partition. They
// run side by side.
describe.concurrent('checkpoint signals reach every rank through the launcher on Slurm, live', () => {
  it('pytorch-ddp on 2 nodes × 2 trainers: batch shell → srun → slurmstepd → torchrun workers; the job exits 85 through the checkpoint mark and rpo resumes it', async () => {
    const { dir, remoteDir } = await workspaceWith('ddp_checkpoint.py')
    const steps = 150
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: launcher-signal-ddp
tasks:
  train:
    framework: pytorch-ddp
    command: exec ${PYTHON} ddp_checkpoint.py --steps ${steps} --step-delay 0.2
    # two trainers per node (one per GPU): the testbed's GPUs are fake, so gloo trains on the CPUs
    resources: { partition: gpu, nodes: 2, cpus: 2, gpus: { count: 2, type: a100 }, time: 10m, memory: 2G }
    # Debian's torchrun 1.13 on Python 3.11 crashes on its own --redirects/--tee default "0" (README)
    env: { PET_REDIRECTS: "9:1", PET_TEE: "9:1" }
    checkpoint: { every: never, leadTime: 60s }
`,
    )
    const { task, running, savedStep } = await checkpointThroughLauncher(dir, remoteDir, 'train', 4)
    // two torchruns, one per node, each with two workers
    expect(running.map((m) => [m.rank, m.nodeId])).toEqual([
      [0, '0'],
      [1, '0'],
      [2, '1'],
      [3, '1'],
    ])
    expect(new Set(running.map((m) => m.node)).size).toBe(2)
    expect(savedStep).toBeLessThan(steps)
    const outputs = task.outputs as { worldSize: number; startStep: number; finalStep: number; ranks: RankMark[] }
    expect(outputs).toMatchObject({ worldSize: 4, startStep: savedStep, finalStep: steps })
    expect(outputs.ranks.map((r) => r.startStep)).toEqual([savedStep, savedStep, savedStep, savedStep])
  }, 300_000)

  it('mpi on 2 nodes × 2 ranks (srun --mpi=pmix): batch shell → srun → slurmstepd → every rank; the job exits 85 and rpo resumes it to the uninterrupted total', async () => {
    const { dir, remoteDir } = await workspaceWith('mpi_checkpoint.py')
    const steps = 150
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: launcher-signal-mpi
tasks:
  ranks:
    framework: mpi
    command: exec ${PYTHON} mpi_checkpoint.py --steps ${steps} --step-delay 0.2
    resources: { partition: cpu, nodes: 2, cpus: 2, time: 10m, memory: 1G }
    checkpoint: { every: never, leadTime: 60s }
`,
    )
    const { task, running, savedStep } = await checkpointThroughLauncher(dir, remoteDir, 'ranks', 4)
    // one rank per CPU: 2 on each node
    expect(running.map((m) => m.nodeId)).toEqual(['0', '0', '1', '1'])
    expect(new Set(running.map((m) => m.node))).toEqual(new Set(['cpu1', 'cpu2']))
    expect(savedStep).toBeLessThan(steps)
    const outputs = task.outputs as {
      size: number
      startStep: number
      finalStep: number
      total: number
      ranks: RankMark[]
    }
    // each step adds 1 + 2 + 3 + 4: the resumed run ends where an uninterrupted one would
    expect(outputs).toMatchObject({ size: 4, startStep: savedStep, finalStep: steps, total: steps * 10 })
    expect(outputs.ranks.map((r) => r.startStep)).toEqual([savedStep, savedStep, savedStep, savedStep])
  }, 300_000)
})
