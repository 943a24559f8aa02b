/**
 * GET /v1/budgets: the report `rpo budget report --json` prints. Admin tokens change budgets with
 * POST /v1/budgets/settings, /v1/budgets/grants and /v1/budgets/grants/:grantId/revoke, through
 * the same checks, permission, leases and records as `rpo budget set|grant|revoke`
 * (src/budget/budget-changes.ts), made as the user who created the token.
 */
import { z } from 'zod'
import {
  parseAmount,
  parseDate,
  parseExpiry,
  parseGrantId,
  parseName,
  parseNote,
  parsePeriod,
  parseResource,
} from '../../budget/budget-change-input.js'
import { grantBudget, revokeGrant, setBudget } from '../../budget/budget-changes.js'
import type { ReportBreakdown } from '../../budget/budget-report.js'
import { buildBudgetReport } from '../../budget/build-budget-report.js'
import { parseAccount } from '../../core/budget/budget-ledger.js'
import { BUDGET_RESOURCES } from '../../core/budget/budget-limits.js'
import { BudgetError, RpoError } from '../../core/errors.js'
import { apiRoute, dateParam, oneOf, textParam } from '../api-route.js'
import { projectsFor, requireProject } from '../auth.js'
import { BudgetReportSchema, BudgetSettingResultSchema, LedgerEntryResultSchema } from '../response-schemas.js'

const BREAKDOWNS = ['user', 'task', 'gpu-type', 'day'] as const
const amount = z.union([z.number(), z.string()]).describe('TRES-hours: a number, or its decimal text')
const CHANGE_ERRORS = {
  404: 'no such grant',
  409: 'the change is refused as things stand (more than is left to lend, a grant expired, a budget that cannot be judged)',
}

export const budgetRoutes = [
  apiRoute({
    method: 'GET',
    url: '/v1/budgets',
    scope: 'read',
    tag: 'budgets',
    summary: 'The budget report: budget, used, committed, remaining, grants, changes, optional breakdown',
    query: z.strictObject({
      project: textParam('project'),
      user: textParam('user'),
      since: dateParam('since'),
      until: dateParam('until'),
      by: textParam('by', oneOf(BREAKDOWNS)),
    }),
    response: BudgetReportSchema,
    async handler({ app, token, query }) {
      const asked = query.project === undefined ? undefined : [parseName('project', 'project', query.project)]
      const project = projectsFor(token, asked)?.[0]
      const filter = {
        project,
        user: query.user === undefined ? undefined : parseName('user', 'user', query.user),
        since: query.since === undefined ? undefined : parseDate('since', query.since),
        until: query.until === undefined ? undefined : parseDate('until', query.until),
      }
      // a project asked for by name must have a budget; a token's own project may have none
      return buildBudgetReport(app, filter, query.by as ReportBreakdown | undefined, app.clock(), asked !== undefined)
    },
  }),
  apiRoute({
    method: 'POST',
    url: '/v1/budgets/settings',
    scope: 'admin',
    tag: 'budgets',
    summary: 'Set a project’s (or a user’s) budget, as `rpo budget set`',
    query: z.strictObject({}),
    body: z.strictObject({
      project: z.string(),
      resource: z.enum(BUDGET_RESOURCES),
      amount,
      gpuType: z.string().optional(),
      user: z.string().optional(),
      period: z.string().default('month').describe('month | rolling:<N>d | <from>..<until>'),
      cap: z.enum(['hard', 'soft']).default('hard'),
      note: z.string().optional(),
    }),
    response: BudgetSettingResultSchema,
    errors: CHANGE_ERRORS,
    async handler({ app, token, body }) {
      const now = app.clock()
      const resource = parseResource('resource', body.resource)
      if (body.gpuType !== undefined && resource !== 'gpu-hours')
        throw new RpoError('usage', `gpuType applies to gpu-hours only, not ${resource}`)
      const project = parseName('project', 'project', body.project)
      requireProject(token, project)
      const setting = {
        project,
        user: body.user === undefined ? null : parseName('user', 'user', body.user),
        resource,
        gpuType: body.gpuType === undefined ? null : parseName('gpuType', 'gpu type', body.gpuType),
        amount: parseAmount('amount', String(body.amount), false),
        period: parsePeriod('period', body.period, now),
        cap: body.cap,
        note: parseNote('note', body.note),
      }
      return setBudget(app, setting, token.createdBy, now)
    },
  }),
  apiRoute({
    method: 'POST',
    url: '/v1/budgets/grants',
    scope: 'admin',
    tag: 'budgets',
    summary: 'Lend part of a project’s budget to another until an expiry, as `rpo budget grant`',
    query: z.strictObject({}),
    body: z.strictObject({
      from: z.string(),
      to: z.string(),
      resource: z.enum(BUDGET_RESOURCES),
      amount,
      gpuType: z.string().optional(),
      expires: z.string().describe('ISO date/time, or a duration from now such as 7d'),
      note: z.string().optional(),
    }),
    response: LedgerEntryResultSchema,
    errors: CHANGE_ERRORS,
    async handler({ app, token, body }) {
      const now = app.clock()
      const lender = parseName('from', 'project', body.from)
      requireProject(token, lender)
      const input = {
        lender,
        borrower: parseName('to', 'project', body.to),
        resource: parseResource('resource', body.resource),
        gpuType: body.gpuType === undefined ? null : parseName('gpuType', 'gpu type', body.gpuType),
        amount: parseAmount('amount', String(body.amount), true),
        expiresAt: parseExpiry('expires', body.expires, now),
        note: parseNote('note', body.note),
      }
      return grantBudget(app, input, token.createdBy, now)
    },
  }),
  apiRoute({
    method: 'POST',
    url: '/v1/budgets/grants/:grantId/revoke',
    scope: 'admin',
    tag: 'budgets',
    summary: 'Take back a grant’s unused part (all, or `amount`), as `rpo budget revoke`',
    params: z.strictObject({ grantId: z.string() }),
    query: z.strictObject({}),
    body: z.strictObject({ amount: amount.optional(), note: z.string().optional() }).default({}),
    response: LedgerEntryResultSchema,
    errors: CHANGE_ERRORS,
    async handler({ app, token, params, body }) {
      const now = app.clock()
      const grantId = parseGrantId(params.grantId)
      if (token.project !== null) {
        const grant = (await app.store.budgets.listEntries()).find((e) => e.kind === 'grant' && e.key === grantId)
        if (!grant) throw new BudgetError('grant-not-found', `no grant ${JSON.stringify(grantId)} in the ledger`)
        requireProject(token, parseAccount(grant.from).project)
      }
      const input = {
        grantId,
        ...(body.amount === undefined ? {} : { amount: parseAmount('amount', String(body.amount), true) }),
        note: parseNote('note', body.note),
      }
      return revokeGrant(app, input, token.createdBy, now)
    },
  }),
]
