/**
 * `rpo budget report|set|grant|revoke` and `rpo explain`: the admin side of budgets and priorities.
 * Changes are recorded with who made them and when (the ledger for grants and revokes, the budget
 * settings for `set`); reports and explanations are computed from the same pure core that enforces.
 */
import { randomUUID } from 'node:crypto'
import { type Command, Option } from 'commander'
import { type BreakdownLine, budgetReportLines, type ReportBreakdown, usageBreakdown } from '../budget/budget-report.js'
import type { GrantStatus } from '../core/budget/budget-grants.js'
import { planGrant, planRevoke } from '../core/budget/budget-grants.js'
import type { BudgetProblem } from '../core/budget/budget-judgement.js'
import type { BudgetPeriod } from '../core/budget/budget-period.js'
import type { BudgetResource } from '../core/budget/tres-hours.js'
import { RpoError } from '../core/errors.js'
import { parseDurationSeconds } from '../core/pipeline/units.js'
import type { App } from '../create-app.js'
import { currentUser } from '../current-user.js'
import { renderTable } from './format.js'

export interface CommandContext {
  readonly withApp: <T>(fn: (app: App) => Promise<T>) => Promise<T>
  readonly out: (text: string) => void
  /** The one unfinished run that has this task (for `explain` without --run). */
  readonly runWithTask: (app: App, taskId: string) => Promise<string>
  readonly resolveRunId: (app: App, prefix: string) => Promise<string>
}

const RESOURCES: readonly BudgetResource[] = ['gpu-hours', 'cpu-hours', 'memory-gb-hours', 'billing']

export function registerBudgetCommands(program: Command, context: CommandContext): void {
  const { withApp, out } = context
  const budget = program.command('budget').description("projects' compute budgets: report, change, lend")

  budget
    .command('report')
    .description('budget, used, committed, remaining, lent/borrowed and projected exhaustion per budget')
    .option('--project <name>', 'only this project')
    .option('--user <name>', 'only budgets (and usage) of this user')
    .option('--since <date>', 'usage breakdown from this date (ISO)')
    .option('--until <date>', 'usage breakdown until this date (ISO, exclusive)')
    .addOption(new Option('--by <what>', 'break usage down').choices(['user', 'task', 'gpu-type', 'day']))
    .option('--json', 'print as JSON')
    .option('--csv', 'print as CSV')
    .action(
      async (options: {
        project?: string
        user?: string
        since?: string
        until?: string
        by?: ReportBreakdown
        json?: boolean
        csv?: boolean
      }) => {
        if (options.json && options.csv) throw new RpoError('usage', 'choose one of --json and --csv')
        const filter = {
          project: options.project,
          user: options.user,
          since: options.since === undefined ? undefined : parseDate('--since', options.since),
          until: options.until === undefined ? undefined : parseDate('--until', options.until),
        }
        await withApp(async (app) => {
          const now = Date.now()
          const all = await app.budgets.statuses(now)
          const { statuses, entries } = all
          // a budget that cannot be judged is shown with why, never a reason to fail the whole report
          const problems = all.problems.filter((p) => options.project === undefined || p.project === options.project)
          const known = [...new Set([...statuses, ...all.problems].map((s) => s.project))]
          if (options.project !== undefined && !known.includes(options.project)) {
            throw new RpoError(
              'usage',
              `project "${options.project}" has no budget${known.length ? ` (budgeted: ${known.join(', ')})` : ' (no project has one: add budgets in the config or with `rpo budget set`)'}`,
            )
          }
          const lines = budgetReportLines(statuses, filter)
          const breakdown = options.by ? usageBreakdown(entries, options.by, filter) : null
          if (options.json) {
            out(JSON.stringify({ at: new Date(now).toISOString(), budgets: lines, problems, breakdown }, null, 2))
            return
          }
          if (options.csv) {
            const rows = breakdown
              ? [
                  ['project', options.by as string, 'gpu_hours', 'cpu_hours', 'memory_gb_hours'],
                  ...breakdown.map((b) => [b.project, b.key, num(b.gpuHours), num(b.cpuHours), num(b.memoryGbHours)]),
                ]
              : [
                  [
                    'project',
                    'user',
                    'resource',
                    'gpu_type',
                    'cap',
                    'window',
                    'budget',
                    'used',
                    'committed',
                    'remaining',
                    'lent',
                    'borrowed',
                    'projected_exhaustion',
                    'state',
                  ],
                  ...lines.map((l) => [
                    l.project,
                    l.user ?? '',
                    l.resource,
                    l.gpuType ?? '',
                    l.cap,
                    l.window,
                    num(l.budget),
                    num(l.used),
                    num(l.committed),
                    num(l.remaining),
                    num(l.lent),
                    num(l.borrowed),
                    l.projectedExhaustion ?? '',
                    l.state,
                  ]),
                  ...problems.map((p) => [
                    p.project,
                    '',
                    '',
                    '',
                    '',
                    '',
                    '',
                    '',
                    '',
                    '',
                    '',
                    '',
                    '',
                    `cannot-judge: ${p.message}`,
                  ]),
                ]
            out(rows.map(csvLine).join('\n'))
            return
          }
          if (problems.length > 0) out(renderProblems(problems))
          if (lines.length === 0) {
            if (problems.length > 0) return
            out('no budgets: add them under projects.<name>.budgets in the config, or with `rpo budget set`')
            // usage is charged whether or not a project has a budget
            if (breakdown) out(`\n${renderBreakdown(breakdown, options.by as ReportBreakdown)}`)
            return
          }
          out(
            renderTable(
              [
                'PROJECT',
                'USER',
                'RESOURCE',
                'CAP',
                'WINDOW',
                'BUDGET',
                'USED',
                'RAW GPU-H',
                'COMMITTED',
                'REMAINING',
                'LENT',
                'BORROWED',
                'EXHAUSTED BY',
                'STATE',
              ],
              lines.map((l) => [
                l.project,
                l.user ?? '-',
                l.gpuType ? `${l.resource}:${l.gpuType}` : l.resource,
                l.cap,
                l.window,
                hours(l.budget),
                hours(l.used),
                rawGpu(l.usedRaw.gpu),
                hours(l.committed),
                hours(l.remaining),
                hours(l.lent),
                hours(l.borrowed),
                l.projectedExhaustion ? l.projectedExhaustion.slice(0, 16).replace('T', ' ') : '-',
                l.state,
              ]),
            ),
          )
          const grants = lines.flatMap((l) => l.grants)
          if (grants.length > 0) {
            out('')
            out(
              renderTable(
                ['GRANT', 'FROM', 'TO', 'AMOUNT', 'USED', 'UNUSED', 'EXPIRES', 'APPROVED BY'],
                uniqueBy(grants, (g) => g.grantId).map((g) => [
                  g.grantId,
                  g.lender,
                  g.borrower,
                  hours(g.amount),
                  hours(g.used),
                  hours(g.unused),
                  g.expiresAt.slice(0, 16).replace('T', ' '),
                  g.approvedBy,
                ]),
              ),
            )
          }
          if (breakdown) {
            out('')
            out(renderBreakdown(breakdown, options.by as ReportBreakdown))
          }
        })
      },
    )

  budget
    .command('set')
    .description("set a project's (or a user's) budget at run time; replaces the config's budget of the same scope")
    .requiredOption('--project <name>', 'the project')
    .addOption(new Option('--resource <what>', 'what the amount counts').choices(RESOURCES).makeOptionMandatory())
    .requiredOption('--amount <hours>', 'TRES-hours per period')
    .option('--gpu-type <type>', 'only this GPU type (gpu-hours)')
    .option('--user <name>', 'a per-user budget inside the project')
    .option('--period <period>', 'month | rolling:<N>d | <from>..<until>', 'month')
    .addOption(
      new Option('--cap <cap>', 'hard: never exceeded; soft: may be while capacity idles')
        .choices(['hard', 'soft'])
        .default('hard'),
    )
    .option('--note <text>', 'why (recorded)')
    .option('--json', 'print the recorded change as JSON')
    .action(
      async (options: {
        project: string
        resource: BudgetResource
        amount: string
        gpuType?: string
        user?: string
        period: string
        cap: 'hard' | 'soft'
        note?: string
        json?: boolean
      }) => {
        const amount = parseAmount('--amount', options.amount, true)
        if (options.gpuType && options.resource !== 'gpu-hours')
          throw new RpoError('usage', `--gpu-type applies to gpu-hours only, not ${options.resource}`)
        const setting = {
          project: options.project,
          user: options.user ?? null,
          resource: options.resource,
          gpuType: options.gpuType ?? null,
          amount,
          period: parsePeriod(options.period),
          cap: options.cap,
          actor: actor(),
          at: new Date().toISOString(),
          note: options.note ?? '',
        }
        await withApp(async (app) => {
          await app.store.budgets.addSetting(setting)
          if (options.json) out(JSON.stringify(setting))
          else
            out(
              `budget of ${setting.user ? `${setting.user} in ` : ''}project ${setting.project}: ${hours(amount)} ${setting.resource}${setting.gpuType ? ` (${setting.gpuType})` : ''} per ${options.period}, ${setting.cap} cap (set by ${setting.actor})`,
            )
        })
      },
    )

  budget
    .command('grant')
    .description("lend part of a project's budget to another, until an expiry (approved by you, recorded)")
    .requiredOption('--from <project>', 'the lender')
    .requiredOption('--to <project>', 'the borrower')
    .addOption(new Option('--resource <what>', 'what is lent').choices(RESOURCES).makeOptionMandatory())
    .requiredOption('--amount <hours>', 'TRES-hours lent')
    .option('--gpu-type <type>', 'only this GPU type (gpu-hours)')
    .requiredOption('--expires <when>', 'an ISO date/time, or a duration from now such as 7d')
    .option('--note <text>', 'why (recorded)')
    .option('--json', 'print the ledger entry as JSON')
    .action(
      async (options: {
        from: string
        to: string
        resource: BudgetResource
        amount: string
        gpuType?: string
        expires: string
        note?: string
        json?: boolean
      }) => {
        const now = Date.now()
        const amount = parseAmount('--amount', options.amount, false)
        const expiresAt = parseExpiry(options.expires, now)
        await withApp(async (app) => {
          const { statuses } = await app.budgets.statuses(now)
          const entry = planGrant(
            {
              key: `grant-${new Date(now).toISOString().slice(0, 10)}-${randomUUID().slice(0, 6)}`,
              at: new Date(now).toISOString(),
              lender: options.from,
              borrower: options.to,
              scope: { resource: options.resource, gpuType: options.gpuType ?? null },
              amount,
              expiresAt,
              actor: actor(),
              ...(options.note ? { note: options.note } : {}),
            },
            statuses,
          )
          await app.store.budgets.appendEntries([entry])
          if (options.json) out(JSON.stringify(entry))
          else out(`${entry.key}: ${entry.note} (approved by ${entry.actor})`)
        })
      },
    )

  budget
    .command('revoke')
    .description("take back a grant's unused part (all of it, or --amount)")
    .argument('<grant>', 'the grant id, as `rpo budget report` lists it')
    .option('--amount <hours>', 'only this much of the unused part')
    .option('--note <text>', 'why (recorded)')
    .option('--json', 'print the ledger entry as JSON')
    .action(async (grantId: string, options: { amount?: string; note?: string; json?: boolean }) => {
      const now = Date.now()
      await withApp(async (app) => {
        const { statuses } = await app.budgets.statuses(now)
        const grants: GrantStatus[] = uniqueBy(
          statuses.flatMap((s) => s.grants),
          (g) => g.grantId,
        )
        const entry = planRevoke(
          {
            key: `revoke-${grantId}-${randomUUID().slice(0, 6)}`,
            at: new Date(now).toISOString(),
            grantId,
            ...(options.amount === undefined ? {} : { amount: parseAmount('--amount', options.amount, false) }),
            actor: actor(),
            ...(options.note ? { note: options.note } : {}),
          },
          grants,
        )
        await app.store.budgets.appendEntries([entry])
        if (options.json) out(JSON.stringify(entry))
        else out(`${entry.key}: ${entry.note} (by ${entry.actor})`)
      })
    })
}

/** Budgets that cannot be judged: their project's new work waits until the setting is fixed. */
function renderProblems(problems: readonly BudgetProblem[]): string {
  const lines = problems.map((p) => `! ${p.message}`)
  if (problems.some((p) => p.kind === 'budget')) {
    lines.push('  (the work of such a project waits until the setting is fixed, e.g. with `rpo budget set`)')
  }
  return `${lines.join('\n')}\n`
}

function renderBreakdown(lines: readonly BreakdownLine[], by: ReportBreakdown): string {
  if (lines.length === 0) return `no usage charged${by ? ` to break down by ${by}` : ''} in this range`
  return renderTable(
    ['PROJECT', by.toUpperCase(), 'GPU-H', 'CPU-H', 'MEM GB-H'],
    lines.map((b) => [b.project, b.key, hours(b.gpuHours), hours(b.cpuHours), hours(b.memoryGbHours)]),
  )
}

function rawGpu(gpu: Readonly<Record<string, number>>): string {
  const parts = Object.entries(gpu)
    .filter(([, h]) => h > 0)
    .map(([type, h]) => `${type}:${hours(h)}`)
  return parts.length > 0 ? parts.join(' ') : '-'
}

/** Hours for people: one decimal from 1 up, two significant digits below (a short job is not "0.0"). */
function hours(value: number): string {
  if (value === 0) return '0'
  return Math.abs(value) >= 1 ? value.toFixed(1) : value.toPrecision(2)
}

function num(value: number): string {
  return String(Math.round(value * 1e6) / 1e6)
}

function csvLine(cells: readonly string[]): string {
  return cells.map((c) => (/[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>()
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item)
  return [...seen.values()]
}

/** Who is making a change, as recorded with it. */
function actor(): string {
  return currentUser() ?? 'unknown'
}

function parseAmount(option: string, text: string, zeroAllowed: boolean): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new RpoError(
      'usage',
      `${option}: expected a ${zeroAllowed ? 'non-negative' : 'positive'} number of hours, got "${text}"`,
    )
  }
  return value
}

function parseDate(option: string, text: string): number {
  const at = Date.parse(text)
  if (!Number.isFinite(at))
    throw new RpoError('usage', `${option}: expected an ISO date such as 2026-11-01, got "${text}"`)
  return at
}

/** `7d`, `36h`, or an ISO date/time. */
function parseExpiry(text: string, now: number): string {
  const seconds = /^\d/.test(text) && !/^\d{4}-/.test(text) ? parseDurationSeconds(text) : null
  if (seconds !== null && seconds > 0) return new Date(now + seconds * 1000).toISOString()
  const at = Date.parse(text)
  if (!Number.isFinite(at)) {
    throw new RpoError('usage', `--expires: expected an ISO date/time or a duration such as 7d, got "${text}"`)
  }
  return new Date(at).toISOString()
}

/** `month`, `rolling:30d`, or `2026-01-01..2026-03-31`. */
function parsePeriod(text: string): BudgetPeriod {
  if (text === 'month') return 'month'
  const rolling = /^rolling:(\d+)d$/.exec(text)
  if (rolling) return { rollingDays: Number(rolling[1]) }
  const fixed = /^(.+)\.\.(.+)$/.exec(text)
  if (fixed && Number.isFinite(Date.parse(fixed[1] as string)) && Number.isFinite(Date.parse(fixed[2] as string))) {
    return { from: fixed[1] as string, until: fixed[2] as string }
  }
  throw new RpoError('usage', `--period: expected month, rolling:<N>d or <from>..<until>, got "${text}"`)
}
