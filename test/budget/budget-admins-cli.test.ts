// Issue #10 (14): lending "with permission". With admins configured, `rpo budget set|grant|revoke`
// refuse (exit 2, recording nothing) a user who is neither a global admin nor an admin of the
// project concerned — for a grant the lender, for a revoke the grant's lender — and every change
// records who approved it, which `budget report` and its --json show.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import { makeWorkDir, runCli } from '../support/cli-harness.js'

const BUDGETS = `
projects:
  vision:
    admins: [alice]
    budgets:
      - { resource: cpu-hours, amount: 10, cap: hard }
  nlp:
    admins: [nora]
    budgets:
      - { resource: cpu-hours, amount: 10, cap: hard }
`

function workspace(extra = ''): string {
  const dir = makeWorkDir()
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `defaultCluster: box\nclusters:\n  box: { kind: local, cpus: 2, memory: 4G }\n${extra}${BUDGETS}`,
  )
  return dir
}

let previousUser: string | undefined
beforeEach(() => {
  previousUser = process.env.RPO_USER
})
afterEach(() => {
  if (previousUser === undefined) delete process.env.RPO_USER
  else process.env.RPO_USER = previousUser
})

async function as(user: string, dir: string, args: string[]) {
  process.env.RPO_USER = user
  return runCli(dir, args)
}

async function changesRecorded(dir: string): Promise<number> {
  const app = await createApp({ configPath: path.join(dir, 'rpo.config.yaml') })
  try {
    return (await app.store.budgets.listSettings()).length + (await app.store.budgets.listEntries()).length
  } finally {
    await app.close()
  }
}

const lend = ['budget', 'grant', '--from', 'nlp', '--to', 'vision', '--resource', 'cpu-hours', '--amount', '2']

describe('budget admins', () => {
  it('refuses a user who is not an admin of the project, naming its admins, and records nothing', async () => {
    const dir = workspace('admins: [root]\n')
    const set = await as('mallory', dir, [
      'budget',
      'set',
      '--project',
      'vision',
      '--resource',
      'cpu-hours',
      '--amount',
      '1000',
    ])
    expect(set.code).toBe(2)
    expect(set.stderr).toMatch(
      /error \(budget-not-permitted\): user mallory may not change project vision's budget; its admins are: alice, global admins: root/,
    )
    // vision's admin may not lend what belongs to nlp
    const grant = await as('alice', dir, [...lend, '--expires', '7d'])
    expect(grant.code).toBe(2)
    expect(grant.stderr).toMatch(
      /user alice may not change project nlp's budget \(lend from it\); its admins are: nora, global admins: root/,
    )
    expect(await changesRecorded(dir)).toBe(0)
  })

  it('lets project and global admins change, and shows who approved each change', async () => {
    const dir = workspace('admins: [root]\n')
    const set = await as('alice', dir, [
      'budget',
      'set',
      '--project',
      'vision',
      '--resource',
      'cpu-hours',
      '--amount',
      '12',
      '--json',
    ])
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({ approvedBy: 'alice', approvedAs: 'admin of project vision' })
    const grant = await as('nora', dir, [...lend, '--expires', '7d', '--json'])
    expect(grant.code, grant.stderr).toBe(0)
    const { grantId } = JSON.parse(grant.stdout)
    // revoking is the lender's: the borrower's admin may not
    const byBorrower = await as('alice', dir, ['budget', 'revoke', grantId])
    expect(byBorrower.code).toBe(2)
    expect(byBorrower.stderr).toMatch(/user alice may not change project nlp's budget \(take back what it lent\)/)
    const revoke = await as('root', dir, ['budget', 'revoke', grantId, '--json'])
    expect(revoke.code, revoke.stderr).toBe(0)
    expect(JSON.parse(revoke.stdout)).toMatchObject({ approvedBy: 'root', approvedAs: 'global admin' })

    const report = await as('mallory', dir, ['budget', 'report', '--json'])
    expect(report.code, report.stderr).toBe(0)
    expect(JSON.parse(report.stdout).changes).toEqual([
      expect.objectContaining({ kind: 'set', project: 'vision', approvedBy: 'alice' }),
      expect.objectContaining({ kind: 'grant', project: 'nlp', to: 'vision', approvedBy: 'nora' }),
      expect.objectContaining({ kind: 'revoke', project: 'nlp', to: 'vision', approvedBy: 'root' }),
    ])
    const table = await as('mallory', dir, ['budget', 'report'])
    expect(table.stdout).toMatch(/^CHANGED\s+KIND\s+PROJECT\s+TO\s+WHAT\s+APPROVED BY\s+NOTE/m)
    expect(table.stdout).toMatch(/\sgrant\s+nlp\s+vision\s+lends 2\.0 cpu-hours .*\snora\s/)
  })

  it('lets anyone change budgets when no admins are configured, and says so', async () => {
    const dir = makeWorkDir()
    writeFileSync(
      path.join(dir, 'rpo.config.yaml'),
      'defaultCluster: box\nclusters:\n  box: { kind: local, cpus: 2, memory: 4G }\nprojects:\n  vision:\n    budgets:\n      - { resource: cpu-hours, amount: 1 }\n',
    )
    const set = await as('anyone', dir, [
      'budget',
      'set',
      '--project',
      'vision',
      '--resource',
      'cpu-hours',
      '--amount',
      '3',
    ])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toMatch(/\(set by anyone: no admins are configured, so anyone may\)/)
    const help = await as('anyone', dir, ['budget', '--help'])
    expect(help.stdout).toMatch(/When no admins are configured anywhere, anyone may/)
  })
})
