// A LocalAdapter on a fresh folder, a job builder and a poll-until loop, for the local executor's tests.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { LocalAdapter } from '../../../adapters/local/local-adapter.js'
import type { ResolvedLocalCluster } from '../../../src/config/load-config.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobObservation,
  type JobSubmission,
} from '../../../src/scheduler/scheduler-adapter.js'
import { makeWorkDir } from '../../support/cli-harness.js'

export const cluster: ResolvedLocalCluster = {
  kind: 'local',
  name: 'box',
  cpus: 2,
  memoryMb: 2048,
  gpus: [],
  killGraceMs: 300,
  pollIntervalMs: 50,
}

export function localSetup(clusterOverrides: Partial<ResolvedLocalCluster> = {}) {
  const dir = makeWorkDir()
  const jobsRoot = path.join(dir, 'jobs')
  const adapter = new LocalAdapter({ cluster: { ...cluster, ...clusterOverrides }, jobsRoot })
  const job = (key: string, command: string, extra: Partial<JobSubmission> = {}): JobSubmission => ({
    submissionKey: asSubmissionKey(key),
    runId: 'r1',
    taskId: key,
    attempt: 1,
    command,
    workDir: dir,
    jobDir: path.join(jobsRoot, key),
    env: {},
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 30, gpus: null, nodes: 1 },
    dependsOn: [],
    project: null,
    ...extra,
  })
  return { dir, jobsRoot, adapter, job }
}

/** Poll until `done` holds; fails after about ten seconds of polling. */
export async function until(
  adapter: LocalAdapter,
  id: string,
  done: (o: JobObservation) => boolean,
): Promise<JobObservation> {
  for (let i = 0; i < 400; i++) {
    const [o] = await adapter.poll([asNativeJobId(id)])
    if (o && done(o)) return o
    await adapter.waitForChange(25)
  }
  throw new Error(`job ${id} did not reach the expected state`)
}

/** Wait until a file exists (written by the task), or the job ended first. */
export async function untilFileOrEnd(adapter: LocalAdapter, id: string, file: string): Promise<JobObservation> {
  return until(adapter, id, (o) => existsSync(file) || (o.state !== 'running' && o.state !== 'pending'))
}
