/**
 * The budget report (as `rpo budget report --json` prints it) and what an admin's budget change
 * answers with: each schema mirrors the library type it publishes (mirror.ts), strict.
 */
import { z } from 'zod'
import type { Approved } from '../../budget/budget-changes.js'
import type { BudgetReport } from '../../budget/build-budget-report.js'
import type { LedgerEntry } from '../../core/budget/budget-ledger.js'
import { BUDGET_RESOURCES } from '../../core/budget/budget-limits.js'
import type { TresHours } from '../../core/budget/tres-hours.js'
import type { BudgetSetting } from '../../store/budget-store.js'
import { mirrors } from './mirror.js'
import { iso, isoOrNull } from './shared.js'

const TresHoursSchema = mirrors<TresHours>()(
  z.strictObject({
    gpu: z.record(z.string(), z.number()).describe('device-hours per GPU type'),
    cpu: z.number(),
    memoryGb: z.number(),
    billing: z.number(),
  }),
)

const BudgetLineSchema = z.strictObject({
  rule: z.string(),
  project: z.string(),
  user: z.string().nullable(),
  resource: z.string(),
  gpuType: z.string().nullable(),
  cap: z.string(),
  window: z.string(),
  amount: z.number(),
  lent: z.number(),
  borrowed: z.number(),
  budget: z.number(),
  used: z.number(),
  usedRaw: TresHoursSchema,
  committed: z.number(),
  remaining: z.number(),
  burnPerDay: z.number(),
  projectedExhaustion: isoOrNull,
  state: z.string(),
  grants: z.array(
    z.strictObject({
      grantId: z.string(),
      lender: z.string(),
      borrower: z.string(),
      amount: z.number(),
      used: z.number(),
      unused: z.number(),
      expiresAt: iso,
      approvedBy: z.string(),
    }),
  ),
})

/** The same report as `rpo budget report --json`. */
export const BudgetReportSchema = mirrors<BudgetReport>()(
  z.strictObject({
    at: iso,
    budgets: z.array(BudgetLineSchema),
    problems: z.array(
      z.strictObject({
        project: z.string(),
        kind: z.enum(['budget', 'deadline']),
        source: z.string(),
        message: z.string(),
      }),
    ),
    changes: z.array(
      z.strictObject({
        at: iso,
        kind: z.enum(['set', 'grant', 'revoke', 'expiry']),
        project: z.string(),
        to: z.string().nullable(),
        what: z.string(),
        approvedBy: z.string(),
        note: z.string(),
      }),
    ),
    breakdown: z
      .array(
        z.strictObject({
          project: z.string(),
          key: z.string(),
          gpuHours: z.number(),
          cpuHours: z.number(),
          memoryGbHours: z.number(),
        }),
      )
      .nullable(),
  }),
).meta({ id: 'BudgetReport' })

const approval = { approvedBy: z.string(), approvedAs: z.string().describe('why the maker was allowed') }
const resource = z.enum(BUDGET_RESOURCES)

export const BudgetSettingResultSchema = mirrors<Approved<BudgetSetting>>()(
  z.strictObject({
    project: z.string(),
    user: z.string().nullable(),
    resource,
    gpuType: z.string().nullable(),
    amount: z.number(),
    period: z.union([
      z.literal('month'),
      z.strictObject({ rollingDays: z.number().int() }),
      z.strictObject({ from: z.string(), until: z.string() }),
    ]),
    cap: z.enum(['hard', 'soft']),
    actor: z.string(),
    at: iso,
    note: z.string(),
    ...approval,
  }),
).meta({ id: 'BudgetSettingResult' })

const account = z.templateLiteral([z.enum(['allocation', 'usage']), ':', z.string()])

export const LedgerEntryResultSchema = mirrors<Approved<LedgerEntry>>()(
  z.strictObject({
    key: z.string(),
    at: iso,
    kind: z.enum(['charge', 'grant', 'revoke', 'adjust']),
    from: account.describe('allocation:<project>[/<user>] (what may be spent) or usage:<project>[/<user>]'),
    to: account,
    hours: TresHoursSchema,
    ruleScope: z.strictObject({ resource, gpuType: z.string().nullable() }).optional(),
    grantId: z.string().optional(),
    expiresAt: iso.optional(),
    usageKey: z.string().optional().describe('charges: the job run they charge'),
    actor: z.string(),
    note: z.string(),
    ...approval,
  }),
).meta({ id: 'LedgerEntryResult' })
