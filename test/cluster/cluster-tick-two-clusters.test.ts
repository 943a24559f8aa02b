// One pipeline across two clusters of the testbed — its Slurm (`kind: slurm`) and its Torque
// wrappers (`kind: pbs`) — through the spawned `rpo run`: data prepared on one, trained on the other.
// The edge between clusters is waited on by rpo (the dependent is submitted only after its upstream
// ended); an edge within a cluster is still a native dependency (the dependent is queued before its
// upstream ends and starts after it). Checked in Slurm's accounting (the wrappers run on Slurm) and
// in the job folders (each task went through its own cluster's adapter).
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import { writePipeline } from '../support/cli-harness.js'
import {
  cancelStoredJobs,
  cancelTagged,
  Processes,
  sacctJobs,
  tickTag,
  tickWorkspace,
  until,
} from '../support/cluster-tick-live.js'
import { testbedSsh } from './testbed.js'

const ssh = testbedSsh()
const processes = new Processes()
let tag = ''
let workspace = ''

afterEach(async () => {
  await processes.killAll()
  if (workspace) await cancelStoredJobs(ssh, workspace)
  if (tag) await cancelTagged(ssh, tag)
})
afterAll(() => ssh.close())

interface TaskProgress {
  readonly id: string
  readonly state: string
  readonly jobId: string
}

describe('a pipeline whose tasks name their own cluster', () => {
  it('prepares on the Slurm cluster and trains on the PBS one; rpo waits on the edge between them', async () => {
    tag = tickTag()
    const { dir, remoteDir } = tickWorkspace({ tag, clusters: { slurm: 'slurm', torque: 'pbs' } })
    workspace = dir
    writePipeline(
      dir,
      'pipeline.yaml',
      `
name: ${tag}-two
defaults:
  resources: { partition: cpu, time: 1m, memory: 20M }
tasks:
  prep: { command: 'sleep 2; echo data > "$RPO_OUTPUT_DIR/data.txt"' }
  clean: { after: [prep], command: 'sleep 1; cp "$RPO_RUN_DIR/prep/data.txt" "$RPO_OUTPUT_DIR/clean.txt"' }
  train: { cluster: torque, after: [clean], command: 'grep -q data "$RPO_RUN_DIR/clean/clean.txt" && sleep 2' }
  report: { cluster: torque, after: [train], command: 'sleep 1' }
`,
    )
    const run = processes.spawn(dir, ['run', 'pipeline.yaml', '--json', '--quiet'])
    const result = await run.closed()
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const progress = JSON.parse(result.stdout) as { runId: string; state: string; tasks: TaskProgress[] }
    const tasks = new Map(progress.tasks.map((t) => [t.id, t]))
    expect(progress.tasks.map((t) => [t.id, t.state])).toEqual([
      ['prep', 'succeeded'],
      ['clean', 'succeeded'],
      ['train', 'succeeded'],
      ['report', 'succeeded'],
    ])

    const ids = progress.tasks.map((t) => t.jobId.split('.')[0] as string)
    const rows = await until(
      'sacct to list the four jobs ended',
      async () => {
        const found = await sacctJobs(ssh, ids)
        return found.length === 4 && found.every((r) => r.state === 'COMPLETED' && r.end > 0) ? found : null
      },
      20_000,
    )
    const job = (task: string) => {
      const id = tasks.get(task)?.jobId.split('.')[0]
      const row = rows.find((r) => r.jobId === id)
      if (!row) throw new Error(`no accounting row for ${task} (job ${id})`)
      return row
    }
    const [prep, clean, train, report] = [job('prep'), job('clean'), job('train'), job('report')]
    // each task went through its own cluster's adapter: the PBS one leaves its script in the job folder
    const pbsScripts = await ssh.exec(
      ['sh', '-c', `cd ${remoteDir}/jobs && ls -d */job.pbs 2>/dev/null | cut -d/ -f1 | sort`],
      { idempotent: true },
    )
    const key = (task: string) => `rpo.${progress.runId}.${task}.1`
    expect(pbsScripts.stdout.trim().split('\n')).toEqual([key('report'), key('train')])
    // within a cluster: queued before its upstream ended (a native dependency), started after it
    expect(clean.submit).toBeLessThan(prep.end)
    expect(clean.start).toBeGreaterThanOrEqual(prep.end)
    expect(report.submit).toBeLessThan(train.end)
    expect(report.start).toBeGreaterThanOrEqual(train.end)
    // across clusters: nothing was handed to the scheduler before the upstream had ended (sacct, to
    // the second), and rpo wrote train's attempt only after it had recorded clean's success (to the ms)
    expect(train.submit).toBeGreaterThanOrEqual(clean.end)
    const app = await createApp({ cwd: dir })
    try {
      const events = await app.store.listEvents(progress.runId)
      const cleanSucceeded = events.find((e) => e.type === 'task:succeeded' && e.taskId === 'clean')
      const [trainAttempt] = await app.store.listAttempts(progress.runId, 'train')
      expect(Date.parse(trainAttempt?.submittedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(cleanSucceeded?.at ?? ''))
    } finally {
      await app.close()
    }
    console.log(
      `cluster-tick two clusters: train submitted on torque ${train.submit - clean.end} s after clean ended on slurm; clean queued ${prep.end - clean.submit} s and report ${train.end - report.submit} s before their upstreams ended (native)`,
    )
  }, 120_000)
})
