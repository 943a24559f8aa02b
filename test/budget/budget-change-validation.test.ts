// Issue #10 (1a, 11): `rpo budget set|grant|revoke` check every argument before recording
// anything, and refuse with exit 2 saying what and why: periods that end before they start or are
// empty, amounts that are not finite or absurd, empty or malformed names, expiries centuries ahead.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/create-app.js'
import { makeWorkDir, runCli } from '../support/cli-harness.js'

const CONFIG = `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, pollInterval: 50ms }
projects:
  vision:
    budgets:
      - { resource: cpu-hours, amount: 10, cap: hard }
  nlp:
    budgets:
      - { resource: cpu-hours, amount: 10, cap: hard }
`

function workspace(): string {
  const dir = makeWorkDir()
  writeFileSync(path.join(dir, 'rpo.config.yaml'), CONFIG)
  return dir
}

async function recorded(dir: string): Promise<{ settings: number; entries: number }> {
  const app = await createApp({ configPath: path.join(dir, 'rpo.config.yaml') })
  try {
    return {
      settings: (await app.store.budgets.listSettings()).length,
      entries: (await app.store.budgets.listEntries()).length,
    }
  } finally {
    await app.close()
  }
}

// the sound dates move with the clock: a change may name dates within ten years of now
const YEAR = new Date().getUTCFullYear()

const set = (...extra: string[]) => ['budget', 'set', '--resource', 'gpu-hours', ...extra]
const grant = (...extra: string[]) => [
  'budget',
  'grant',
  '--from',
  'nlp',
  '--to',
  'vision',
  '--resource',
  'cpu-hours',
  ...extra,
]

describe('budget changes are checked before they are recorded', () => {
  it.each([
    [
      set('--project', 'other', '--amount', '5', '--period', '2026-05-01..2026-01-01'),
      /--period "2026-05-01\.\.2026-01-01": .*must come before until/,
    ],
    [
      set('--project', 'other', '--amount', '5', '--period', 'rolling:0d'),
      /--period "rolling:0d": a rolling window is 1 to 3660 days long/,
    ],
    [
      set('--project', 'other', '--amount', '5', '--period', 'rolling:99999d'),
      /a rolling window is 1 to 3660 days long/,
    ],
    [set('--project', 'other', '--amount', '5', '--period', '2026-02-30..2026-03-31'), /is not a calendar date/],
    [
      set('--project', 'other', '--amount', '5', '--period', `${YEAR}-01-01..9999-12-31`),
      /until 9999-12-31 is more than 3660 days \(10 years\) ahead/,
    ],
    [set('--project', 'other', '--amount', 'Infinity'), /--amount "Infinity": expected a non-negative number of hours/],
    [
      set('--project', 'other', '--amount', '1e308'),
      /--amount "1e308": the amount 1e\+308 is more than the largest allowed/,
    ],
    [set('--project', 'other', '--amount', '-1'), /--amount "-1": expected a non-negative number/],
    [set('--project', 'other', '--amount', '0x10'), /--amount "0x10": expected a non-negative number/],
    [set('--project', '', '--amount', '5'), /--project "": the project name is empty/],
    [set('--project', 'a b', '--amount', '5'), /--project "a b": "a b" is not a project name/],
    [set('--project', 'other', '--user', '', '--amount', '5'), /--user "": the user name is empty/],
    [set('--project', 'other', '--user', 'x;rm', '--amount', '5'), /--user "x;rm": .*is not a user name/],
    [set('--project', 'other', '--gpu-type', '', '--amount', '5'), /--gpu-type "": the gpu type name is empty/],
  ])('refuses %j', async (args, message) => {
    const dir = workspace()
    const result = await runCli(dir, args)
    expect(result.code, result.stdout).toBe(2)
    expect(result.stderr).toMatch(message)
    expect(await recorded(dir)).toEqual({ settings: 0, entries: 0 })
  })

  it.each([
    [
      grant('--amount', '1', '--expires', '99999999999d'),
      /--expires "99999999999d": the expiry is more than 3660 days \(10 years\) ahead/,
    ],
    [grant('--amount', '1', '--expires', '2999-01-01'), /the expiry is more than 3660 days/],
    [grant('--amount', '1', '--expires', '2020-01-01'), /--expires "2020-01-01": the expiry must be in the future/],
    [grant('--amount', '1', '--expires', 'soon'), /--expires "soon": expected an ISO date\/time/],
    [grant('--amount', '0', '--expires', '7d'), /--amount "0": the amount 0 must be greater than 0/],
    [grant('--amount', 'NaN', '--expires', '7d'), /--amount "NaN": expected a positive number/],
    [
      [
        'budget',
        'grant',
        '--from',
        '',
        '--to',
        'vision',
        '--resource',
        'cpu-hours',
        '--amount',
        '1',
        '--expires',
        '7d',
      ],
      /--from "": the project name is empty/,
    ],
    [['budget', 'revoke', ' '], /<grant> " ": expected a grant id/],
    [['budget', 'report', '--since', '2026-02-30'], /--since "2026-02-30": expected an ISO date/],
  ])('refuses %j', async (args, message) => {
    const dir = workspace()
    const result = await runCli(dir, args)
    expect(result.code, result.stdout).toBe(2)
    expect(result.stderr).toMatch(message)
    expect(await recorded(dir)).toEqual({ settings: 0, entries: 0 })
  })

  it('records a change whose every value is sound', async () => {
    const dir = workspace()
    const ok = await runCli(
      dir,
      set('--project', 'other', '--amount', '5', '--period', `${YEAR}-01-01..${YEAR}-03-31`, '--user', 'jane.doe'),
    )
    expect(ok.code, ok.stderr).toBe(0)
    const lent = await runCli(dir, grant('--amount', '2', '--expires', '30d'))
    expect(lent.code, lent.stderr).toBe(0)
    expect(await recorded(dir)).toEqual({ settings: 1, entries: 1 })
  })
})
