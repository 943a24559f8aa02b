// rpo budget report|set|grant|revoke and rpo explain, as an admin types them, on the local executor
// (which cannot hold jobs: work over a hard cap waits in rpo, and says why).
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import { asNativeJobId } from '../../src/scheduler/scheduler-adapter.js'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
projects:
  vision:
    importance: 2
    budgets:
      - { resource: cpu-hours, amount: 1, cap: hard }
  nlp:
    budgets:
      - { resource: cpu-hours, amount: 10, cap: hard }
`

function workspace(): string {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  return dir
}

describe('rpo budget', () => {
  it('reports budgets as a table, JSON and CSV, with the usage a run was charged', async () => {
    const dir = workspace()
    writePipeline(
      dir,
      'p.yaml',
      'name: small\nproject: vision\ntasks:\n  a: { command: sleep 1, resources: { time: 1m } }\n',
    )
    expect((await runCli(dir, ['run', 'p.yaml', '--quiet'])).code).toBe(0)

    const table = await runCli(dir, ['budget', 'report'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/^PROJECT\s+USER\s+RESOURCE\s+CAP\s+WINDOW\s+BUDGET/m)
    expect(table.stdout).toMatch(/^vision\s+-\s+cpu-hours\s+hard\s+month \d{4}-\d{2}\s+1\.0/m)

    const json = JSON.parse(
      (await runCli(dir, ['budget', 'report', '--project', 'vision', '--by', 'task', '--json'])).stdout,
    )
    expect(json.budgets).toHaveLength(1)
    const [vision] = json.budgets
    // one CPU for about a second, charged from what the executor reported
    expect(vision.used).toBeGreaterThan(0.5 / 3600)
    expect(vision.used).toBeLessThan(5 / 3600)
    expect(vision.usedRaw.cpu).toBeCloseTo(vision.used, 12)
    expect(json.breakdown).toEqual([
      expect.objectContaining({ project: 'vision', key: expect.stringMatching(/^small-.*\/a$/) }),
    ])

    const csv = (await runCli(dir, ['budget', 'report', '--csv'])).stdout.trim().split('\n')
    expect(csv[0]).toBe(
      'project,user,resource,gpu_type,cap,window,budget,used,committed,remaining,lent,borrowed,projected_exhaustion,state',
    )
    expect(
      csv
        .slice(1)
        .map((l) => l.split(',')[0])
        .sort(),
    ).toEqual(['nlp', 'vision'])
  })

  it('charges usage for projects without a budget too, and breaks it down on request', async () => {
    const dir = makeWorkDir()
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'defaultCluster: box\nclusters:\n  box: { kind: local, cpus: 2, memory: 4G, pollInterval: 50ms }\n',
    )
    writePipeline(
      dir,
      'p.yaml',
      'name: free\nproject: demo\ntasks:\n  a: { command: sleep 1, resources: { time: 1m } }\n',
    )
    expect((await runCli(dir, ['run', 'p.yaml', '--quiet'])).code).toBe(0)
    const report = await runCli(dir, ['budget', 'report', '--by', 'task'])
    expect(report.code, report.stderr).toBe(0)
    expect(report.stdout).toMatch(/^no budgets: add them under projects/m)
    // about one CPU-second: shown as such, not rounded away to 0.0
    expect(report.stdout).toMatch(/^demo\s+free-\S+\/a\s+0\s+0\.000[2-9]\d*\s/m)
  })

  it('charges a job run once: the same report twice adds nothing, a longer one only the difference', async () => {
    const dir = workspace()
    writePipeline(
      dir,
      'p.yaml',
      'name: once\nproject: nlp\ntasks:\n  a: { command: sleep 1, resources: { time: 1m } }\n',
    )
    await runCli(dir, ['run', 'p.yaml', '--quiet'])
    const app = await createApp({ configPath: path.join(dir, 'rpo.config.yaml') })
    try {
      const [run] = await app.store.listRuns()
      const { snapshot } = await app.store.loadSnapshot(run!.id)
      const attempt = snapshot.latestAttempts[0]!
      const report = (elapsedSeconds: number) => [
        {
          kind: 'observed' as const,
          submissionKey: attempt.submissionKey,
          job: {
            jobId: asNativeJobId(attempt.jobId!),
            state: 'succeeded' as const,
            nativeState: 'COMPLETED',
            exitCode: 0,
            startedAt: new Date(attempt.startedAt!),
            endedAt: new Date(attempt.endedAt!),
            usage: { elapsedSeconds, allocTres: { cpu: 1, mem: 1024 } },
          },
        },
      ]
      const used = async () => (await app.budgets.statuses(Date.now())).statuses.find((s) => s.project === 'nlp')!.used
      const before = await used()
      const entries = (await app.store.budgets.listEntries()).length
      // the engine already charged this job run; a second report of the same figure adds no entry
      await app.budgets.charge([{ run: run!, snapshot, observations: report(1) }], Date.now())
      await app.budgets.charge([{ run: run!, snapshot, observations: report(1) }], Date.now())
      const afterSame = (await app.store.budgets.listEntries()).length
      expect(afterSame - entries).toBeLessThanOrEqual(1)
      const settled = await used()
      expect(settled).toBeGreaterThanOrEqual(before)
      await app.budgets.charge([{ run: run!, snapshot, observations: report(1) }], Date.now())
      expect(await used()).toBe(settled)
      // 3600 s reported: charged up to one CPU-hour in all, never more
      await app.budgets.charge([{ run: run!, snapshot, observations: report(3600) }], Date.now())
      expect(await used()).toBeCloseTo(1, 9)
      await app.budgets.charge([{ run: run!, snapshot, observations: report(3600) }], Date.now())
      expect(await used()).toBeCloseTo(1, 9)
    } finally {
      await app.close()
    }
  })

  it('lends with a grant, revokes its unused part, and refuses what it cannot do with reasons', async () => {
    const dir = workspace()
    const grant = await runCli(dir, [
      'budget',
      'grant',
      '--from',
      'nlp',
      '--to',
      'vision',
      '--resource',
      'cpu-hours',
      '--amount',
      '4',
      '--expires',
      '7d',
      '--json',
    ])
    expect(grant.code, grant.stderr).toBe(0)
    const entry = JSON.parse(grant.stdout)
    expect(entry).toMatchObject({ kind: 'grant', from: 'allocation:nlp', to: 'allocation:vision' })
    const report = JSON.parse((await runCli(dir, ['budget', 'report', '--json'])).stdout).budgets
    expect(report.find((b: { project: string }) => b.project === 'vision')).toMatchObject({ borrowed: 4, budget: 5 })
    expect(report.find((b: { project: string }) => b.project === 'nlp')).toMatchObject({ lent: 4, budget: 6 })

    const tooMuch = await runCli(dir, ['budget', 'revoke', entry.grantId, '--amount', '5'])
    expect(tooMuch.code).not.toBe(0)
    expect(tooMuch.stderr).toMatch(
      /error \(revoke-exceeds-unused\): cannot revoke 5\.0 cpu-hours of grant .*only 4\.0 is unused/,
    )
    const revoked = await runCli(dir, ['budget', 'revoke', entry.grantId, '--json'])
    expect(revoked.code, revoked.stderr).toBe(0)
    const after = JSON.parse((await runCli(dir, ['budget', 'report', '--json'])).stdout).budgets
    expect(after.find((b: { project: string }) => b.project === 'vision')).toMatchObject({ borrowed: 0, budget: 1 })

    const overdraw = await runCli(dir, [
      'budget',
      'grant',
      '--from',
      'vision',
      '--to',
      'nlp',
      '--resource',
      'cpu-hours',
      '--amount',
      '3',
      '--expires',
      '1d',
    ])
    expect(overdraw.stderr).toMatch(
      /error \(lend-exceeds-remaining\): project vision cannot lend 3\.0 cpu-hours: only 1\.0 left/,
    )
    const badAmount = await runCli(dir, [
      'budget',
      'set',
      '--project',
      'vision',
      '--resource',
      'cpu-hours',
      '--amount',
      'lots',
    ])
    expect(badAmount.stderr).toMatch(/--amount "lots": expected a non-negative number of hours/)
    const badResource = await runCli(dir, [
      'budget',
      'set',
      '--project',
      'vision',
      '--resource',
      'gpus',
      '--amount',
      '1',
    ])
    expect(badResource.code).not.toBe(0)
    expect(badResource.stderr).toMatch(/Allowed choices are gpu-hours, cpu-hours, memory-gb-hours, billing/)
    const unknown = await runCli(dir, ['budget', 'report', '--project', 'visoin'])
    expect(unknown.stderr).toMatch(/project "visoin" has no budget \(budgeted: vision, nlp\)/)
  })

  it('budget set replaces the config budget at run time; work over it waits and explain says why', async () => {
    const dir = workspace()
    const set = await runCli(dir, [
      'budget',
      'set',
      '--project',
      'vision',
      '--resource',
      'cpu-hours',
      '--amount',
      '0.001',
      '--note',
      'freeze',
    ])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toMatch(/budget of project vision: 0\.0010 cpu-hours per month, hard cap \(set by /)
    // worst case 1 CPU × 1 h: more than 0.001 CPU-hours, so the task may not start
    writePipeline(
      dir,
      'p.yaml',
      'name: frozen\nproject: vision\ntasks:\n  a: { command: "true", resources: { time: 1h } }\n',
    )
    const submitted = await runCli(dir, ['submit', 'p.yaml', '--json'])
    expect(JSON.parse(submitted.stdout)).toMatchObject({ submitted: 0, state: 'running' })
    const explained = await runCli(dir, ['explain', 'a'])
    expect(explained.code, explained.stderr).toBe(0)
    expect(explained.stdout).toMatch(/^a \(run frozen-[^,]+, project vision\): pending$/m)
    expect(explained.stdout).toMatch(
      /budget: project vision would exceed its hard cpu-hours cap: used 0\.0 \+ committed 0\.0 \+ this job 1\.0 > 0\.0/,
    )
    const json = JSON.parse((await runCli(dir, ['explain', 'a', '--json'])).stdout)
    expect(json.waitingFor[0]).toMatch(/^budget: /)
    expect(json.budgets[0]).toMatchObject({ project: 'vision', budget: 0.001, state: 'ok' })
    // raising it lets the task go
    await runCli(dir, ['budget', 'set', '--project', 'vision', '--resource', 'cpu-hours', '--amount', '2'])
    expect(JSON.parse((await runCli(dir, ['sync', '--json'])).stdout)[0].submitted).toBe(1)
  })
})
