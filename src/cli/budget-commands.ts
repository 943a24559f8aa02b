/**
 * `rpo budget report` (and the `budget` command that holds set, grant and revoke, registered from
 * budget-change-commands.ts): the admin side of budgets and priorities. Reports are computed from
 * the same pure core that enforces; a budget that cannot be judged is shown with why.
 */
import { type Command, Option } from 'commander'
import { parseDate, parseName } from '../budget/budget-change-input.js'
import type { BreakdownLine, BudgetChange, ReportBreakdown } from '../budget/budget-report.js'
import { buildBudgetReport } from '../budget/build-budget-report.js'
import type { BudgetProblem } from '../core/budget/budget-judgement.js'
import { RpoError } from '../core/errors.js'
import { BUDGET_ADMINS_HELP, hours, registerBudgetChangeCommands, uniqueBy } from './budget-change-commands.js'
import type { CommandContext } from './command-context.js'
import { renderTable } from './format.js'

export type { CommandContext } from './command-context.js'

const RECENT_CHANGES = 20

export function registerBudgetCommands(program: Command, context: CommandContext): void {
  const { withApp, out } = context
  const budget = program
    .command('budget')
    .description("projects' compute budgets: report, change, lend")
    .addHelpText('after', BUDGET_ADMINS_HELP)

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
          project: options.project === undefined ? undefined : parseName('--project', 'project', options.project),
          user: options.user === undefined ? undefined : parseName('--user', 'user', options.user),
          since: options.since === undefined ? undefined : parseDate('--since', options.since),
          until: options.until === undefined ? undefined : parseDate('--until', options.until),
        }
        await withApp(async (app) => {
          const report = await buildBudgetReport(app, filter, options.by, Date.now())
          const { budgets: lines, problems, changes, breakdown } = report
          if (options.json) {
            out(JSON.stringify(report, null, 2))
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
          if (changes.length > 0) {
            out('')
            out(renderChanges(changes))
          }
          if (breakdown) {
            out('')
            out(renderBreakdown(breakdown, options.by as ReportBreakdown))
          }
        })
      },
    )

  registerBudgetChangeCommands(budget, context)
}

/** Budgets that cannot be judged: their project's new work waits until the setting is fixed. */
function renderProblems(problems: readonly BudgetProblem[]): string {
  const lines = problems.map((p) => `! ${p.message}`)
  if (problems.some((p) => p.kind === 'budget')) {
    lines.push('  (the work of such a project waits until the setting is fixed, e.g. with `rpo budget set`)')
  }
  return `${lines.join('\n')}\n`
}

/** The newest budget changes with who approved each; --json lists all of them. */
function renderChanges(changes: readonly BudgetChange[]): string {
  const shown = changes.slice(-RECENT_CHANGES)
  const table = renderTable(
    ['CHANGED', 'KIND', 'PROJECT', 'TO', 'WHAT', 'APPROVED BY', 'NOTE'],
    shown.map((c) => [
      c.at.slice(0, 16).replace('T', ' '),
      c.kind,
      c.project,
      c.to ?? '-',
      c.what,
      c.approvedBy,
      c.note,
    ]),
  )
  const earlier = changes.length - shown.length
  return earlier > 0 ? `${table}\n(${earlier} earlier changes: --json lists all)` : table
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

function num(value: number): string {
  return String(Math.round(value * 1e6) / 1e6)
}

function csvLine(cells: readonly string[]): string {
  return cells.map((c) => (/[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')
}
