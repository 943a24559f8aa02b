/**
 * `rpo budget set|grant|revoke`: changing budgets. Every argument is checked before anything is
 * read or recorded (budget-change-input.ts); the change itself — permission (for a grant the
 * lender, for a revoke the grant's lender), leases, record with who approved it and when — is
 * src/budget/budget-changes.ts, the same path the HTTP API's admin routes take.
 */
import { type Command, Option } from 'commander'
import {
  parseAmount,
  parseExpiry,
  parseGrantId,
  parseName,
  parseNote,
  parsePeriod,
  parseResource,
} from '../budget/budget-change-input.js'
import { grantBudget, revokeGrant, setBudget } from '../budget/budget-changes.js'
import { BUDGET_RESOURCES } from '../core/budget/budget-limits.js'
import { RpoError } from '../core/errors.js'
import { currentUser } from '../current-user.js'
import type { CommandContext } from './command-context.js'

export { uniqueBy } from '../budget/budget-changes.js'

export const BUDGET_ADMINS_HELP = `
Who may change budgets: the config's global \`admins\` and each project's \`projects.<p>.admins\`
(for grant: the lending project's, for revoke: the grant's lender's). The user is $RPO_USER, else
the login name. When no admins are configured anywhere, anyone may (a single-user setup works as
is), and each change says so; once any admin list exists, everyone else is refused. This guards
against mistakes, not against someone who can set $RPO_USER or write the store directly.`

export function registerBudgetChangeCommands(budget: Command, context: CommandContext): void {
  const { withApp, out } = context
  budget
    .command('set')
    .description("set a project's (or a user's) budget at run time; replaces the config's budget of the same scope")
    .requiredOption('--project <name>', 'the project')
    .addOption(
      new Option('--resource <what>', 'what the amount counts').choices(BUDGET_RESOURCES).makeOptionMandatory(),
    )
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
    .addHelpText('after', BUDGET_ADMINS_HELP)
    .action(
      async (options: {
        project: string
        resource: string
        amount: string
        gpuType?: string
        user?: string
        period: string
        cap: 'hard' | 'soft'
        note?: string
        json?: boolean
      }) => {
        const now = Date.now()
        const resource = parseResource('--resource', options.resource)
        if (options.gpuType !== undefined && resource !== 'gpu-hours')
          throw new RpoError('usage', `--gpu-type applies to gpu-hours only, not ${resource}`)
        const setting = {
          project: parseName('--project', 'project', options.project),
          user: options.user === undefined ? null : parseName('--user', 'user', options.user),
          resource,
          gpuType: options.gpuType === undefined ? null : parseName('--gpu-type', 'gpu type', options.gpuType),
          amount: parseAmount('--amount', options.amount, false),
          period: parsePeriod('--period', options.period, now),
          cap: options.cap,
          note: parseNote('--note', options.note),
        }
        await withApp(async (app) => {
          const recorded = await setBudget(app, setting, currentUser(), now)
          if (options.json) out(JSON.stringify(recorded))
          else
            out(
              `budget of ${setting.user ? `${setting.user} in ` : ''}project ${setting.project}: ${hours(setting.amount)} ${setting.resource}${setting.gpuType ? ` (${setting.gpuType})` : ''} per ${options.period}, ${setting.cap} cap (set by ${recorded.approvedBy}: ${recorded.approvedAs})`,
            )
        })
      },
    )

  budget
    .command('grant')
    .description("lend part of a project's budget to another, until an expiry (approved by you, recorded)")
    .requiredOption('--from <project>', 'the lender')
    .requiredOption('--to <project>', 'the borrower')
    .addOption(new Option('--resource <what>', 'what is lent').choices(BUDGET_RESOURCES).makeOptionMandatory())
    .requiredOption('--amount <hours>', 'TRES-hours lent')
    .option('--gpu-type <type>', 'only this GPU type (gpu-hours)')
    .requiredOption('--expires <when>', 'an ISO date/time, or a duration from now such as 7d (at most 10 years)')
    .option('--note <text>', 'why (recorded)')
    .option('--json', 'print the ledger entry as JSON')
    .addHelpText('after', BUDGET_ADMINS_HELP)
    .action(
      async (options: {
        from: string
        to: string
        resource: string
        amount: string
        gpuType?: string
        expires: string
        note?: string
        json?: boolean
      }) => {
        const now = Date.now()
        const lender = parseName('--from', 'project', options.from)
        const borrower = parseName('--to', 'project', options.to)
        const resource = parseResource('--resource', options.resource)
        const gpuType = options.gpuType === undefined ? null : parseName('--gpu-type', 'gpu type', options.gpuType)
        const amount = parseAmount('--amount', options.amount, true)
        const expiresAt = parseExpiry('--expires', options.expires, now)
        const note = parseNote('--note', options.note)
        await withApp(async (app) => {
          const entry = await grantBudget(
            app,
            { lender, borrower, resource, gpuType, amount, expiresAt, note },
            currentUser(),
            now,
          )
          if (options.json) out(JSON.stringify(entry))
          else out(`${entry.key}: ${entry.note} (approved by ${entry.actor}: ${entry.approvedAs})`)
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
    .addHelpText('after', BUDGET_ADMINS_HELP)
    .action(async (grantText: string, options: { amount?: string; note?: string; json?: boolean }) => {
      const now = Date.now()
      const grantId = parseGrantId(grantText)
      const amount = options.amount === undefined ? undefined : parseAmount('--amount', options.amount, true)
      const note = parseNote('--note', options.note)
      await withApp(async (app) => {
        const entry = await revokeGrant(
          app,
          { grantId, ...(amount === undefined ? {} : { amount }), note },
          currentUser(),
          now,
        )
        if (options.json) out(JSON.stringify(entry))
        else out(`${entry.key}: ${entry.note} (by ${entry.actor}: ${entry.approvedAs})`)
      })
    })
}

/** Hours for people: one decimal from 1 up, two significant digits below (a short job is not "0.0"). */
export function hours(value: number): string {
  if (value === 0) return '0'
  return Math.abs(value) >= 1 ? value.toFixed(1) : value.toPrecision(2)
}
