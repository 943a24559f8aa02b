// Issue #10: one bad budget setting must never let work through. A row an older rpo recorded (a
// period that ends before it starts) makes ITS project's work wait with the setting named, while
// the other projects are judged as before; reports and explain show the problem instead of failing.
// Real CLI, local executor (which cannot hold: work over a cap waits in rpo), SQLite.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import type { BudgetSetting } from '../../src/store/budget-store.js'
import { makeWorkDir, runCli, writePipeline } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 200ms, pollInterval: 50ms }
projects:
  capped:
    budgets:
      - { resource: cpu-hours, amount: 0, cap: hard }
  roomy:
    budgets:
      - { resource: cpu-hours, amount: 100, cap: hard }
`

function workspace(): string {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  for (const project of ['capped', 'roomy', 'free']) {
    writePipeline(
      dir,
      `${project}.yaml`,
      `name: ${project}-work\nproject: ${project}\ntasks:\n  ${project}-task: { command: "true", resources: { time: 1h } }\n`,
    )
  }
  return dir
}

/** What an older rpo, which checked nothing, could have recorded. */
async function recordSetting(dir: string, setting: Partial<BudgetSetting> & { project: string }): Promise<void> {
  const app = await createApp({ configPath: path.join(dir, 'rpo.config.yaml') })
  try {
    await app.store.budgets.addSetting({
      user: null,
      resource: 'gpu-hours',
      gpuType: null,
      amount: 5,
      period: { from: '2026-05-01', until: '2026-01-01' },
      cap: 'hard',
      actor: 'mallory',
      at: new Date().toISOString(),
      note: '',
      ...setting,
    })
  } finally {
    await app.close()
  }
}

async function submitted(dir: string, file: string): Promise<number> {
  const result = await runCli(dir, ['submit', file, '--json'])
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout).submitted
}

describe('budgets fail closed', () => {
  it("another project's bad setting leaves the capped task waiting and the others unaffected", async () => {
    const dir = workspace()
    expect(await submitted(dir, 'capped.yaml')).toBe(0)
    await recordSetting(dir, { project: 'other' })

    const sync = await runCli(dir, ['sync', '--json'])
    expect(sync.code, sync.stderr).toBe(0)
    expect(JSON.parse(sync.stdout)[0]).toMatchObject({ submitted: 0, state: 'running' })
    // a run of a project that can be judged goes on, and its ticks name the bad setting
    const run = await runCli(dir, ['run', 'roomy.yaml'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(
      /! budget problem: the budget of project other cannot be judged: the gpu-hours budget other\.set\[0\] .*2026-05-01\.\.2026-01-01.*rpo budget set by mallory/,
    )

    const report = await runCli(dir, ['budget', 'report'])
    expect(report.code, report.stderr).toBe(0)
    expect(report.stdout).toMatch(/^capped\s+-\s+cpu-hours\s+hard/m)
    expect(report.stdout).toMatch(/the budget of project other cannot be judged: .*must come before until/)
    const json = JSON.parse((await runCli(dir, ['budget', 'report', '--json'])).stdout)
    expect(json.problems).toEqual([expect.objectContaining({ project: 'other', source: 'other.set[0]' })])
    const explained = await runCli(dir, ['explain', 'capped-task'])
    expect(explained.code, explained.stderr).toBe(0)
    expect(explained.stdout).toMatch(/budget: project capped would exceed its hard cpu-hours cap/)
    // lending to (or from) a project whose budget cannot be judged waits until it is fixed
    const lend = await runCli(dir, [
      'budget',
      'grant',
      '--from',
      'roomy',
      '--to',
      'other',
      '--resource',
      'gpu-hours',
      '--amount',
      '1',
      '--expires',
      '7d',
    ])
    expect(lend.code).toBe(2)
    expect(lend.stderr).toMatch(
      /cannot lend now: the budget of project other cannot be judged: .*fix that setting first/,
    )
  })

  it("a project's own bad setting makes its work wait with the setting named, others go", async () => {
    const dir = workspace()
    await recordSetting(dir, { project: 'roomy', resource: 'cpu-hours', period: { rollingDays: 0 } })
    expect(await submitted(dir, 'roomy.yaml')).toBe(0)
    const explained = await runCli(dir, ['explain', 'roomy-task', '--json'])
    expect(explained.code, explained.stderr).toBe(0)
    expect(JSON.parse(explained.stdout).waitingFor[0]).toMatch(
      /^budget: the budget of project roomy cannot be judged: the cpu-hours budget roomy\.budgets\[0\] .*rolling:0d.*rollingDays must be a positive whole number/,
    )
    expect(await submitted(dir, 'free.yaml')).toBe(1)
    expect(await submitted(dir, 'capped.yaml')).toBe(0)
    // setting it again, properly, lets the work go
    const fixed = await runCli(dir, [
      'budget',
      'set',
      '--project',
      'roomy',
      '--resource',
      'cpu-hours',
      '--amount',
      '50',
    ])
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(
      JSON.parse((await runCli(dir, ['sync', '--json'])).stdout).map((r: { submitted: number }) => r.submitted),
    ).toContain(1)
  })

  it('settings the store cannot read at all make budgeted work wait instead of run', async () => {
    const dir = workspace()
    await recordSetting(dir, { project: 'roomy', resource: 'cpu-hours', period: 'month' })
    const db = new Database(path.join(dir, '.rpo/rpo.sqlite'))
    try {
      db.prepare("UPDATE budget_settings SET period_json = '{not json'").run()
    } finally {
      db.close()
    }
    expect(await submitted(dir, 'roomy.yaml')).toBe(0)
    const explained = JSON.parse((await runCli(dir, ['explain', 'roomy-task', '--json'])).stdout)
    expect(explained.reason).toMatch(/^budget: cannot be judged: /)
  })
})
