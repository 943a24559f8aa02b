/**
 * Builders for the budget and policy tests: GPU job rates, charges written through planCharges,
 * jobs and projects for an enforcement snapshot with neutral defaults, and action lookups.
 */
import { type LedgerEntry, planCharges } from '../../../src/core/budget/budget-ledger.js'
import { type BudgetRuleConfig, budgetRulesOf } from '../../../src/core/budget/budget-rules.js'
import { type TresHours, tresHoursOf } from '../../../src/core/budget/tres-hours.js'
import type {
  EnforcementAction,
  EnforcementJob,
  EnforcementPlan,
  EnforcementProject,
  EnforcementSnapshot,
} from '../../../src/core/policy/enforcement-plan.js'

export const NOW = Date.parse('2026-11-20T12:00:00.000Z')
export const HOUR = 3600
export const DAY_MS = 86_400_000

/** TRES per hour of a job holding `count` GPUs of `type`, as Slurm's AllocTRES reports it. */
export function gpuRate(type: string, count: number): TresHours {
  return tresHoursOf({ 'gres/gpu': count, [`gres/gpu:${type}`]: count, cpu: 8 * count, mem: 32_768 * count }, 3600)
}

/** One finished charge of `gpuHours` of `type` for a project (and user), at `at`. */
export function chargeOf(
  project: string,
  gpuHours: number,
  options: { user?: string | null; type?: string; at?: string; usageKey?: string } = {},
): LedgerEntry {
  const type = options.type ?? 'a100'
  const [entry] = planCharges(
    [
      {
        usageKey: options.usageKey ?? `rpo.${project}.${gpuHours}.${options.at ?? 'x'}#0`,
        project,
        user: options.user ?? null,
        at: options.at ?? '2026-11-10T00:00:00.000Z',
        hours: tresHoursOf({ 'gres/gpu': 1, [`gres/gpu:${type}`]: 1 }, gpuHours * 3600),
      },
    ],
    new Map(),
  )
  return entry as LedgerEntry
}

let counter = 0

export function jobOf(project: string, overrides: Partial<EnforcementJob> = {}): EnforcementJob {
  counter++
  const jobId = overrides.jobId ?? `${project}-${counter}`
  return {
    jobId,
    attemptKey: `rpo.${jobId}.1`,
    runId: `run-${project}`,
    taskId: jobId,
    project,
    user: null,
    state: 'pending',
    heldByRpo: false,
    currentNice: null,
    gpuType: 'a100',
    gpus: 1,
    rate: gpuRate(overrides.gpuType ?? 'a100', overrides.gpus ?? 1),
    elapsedSeconds: 0,
    timeLimitSeconds: 4 * HOUR,
    checkpointable: true,
    readySince: '2026-11-20T10:00:00.000Z',
    ...overrides,
  }
}

export function projectOf(project: string, overrides: Partial<EnforcementProject> = {}): EnforcementProject {
  return {
    project,
    importance: 1,
    deadline: null,
    share: null,
    usage: 0,
    remainingCriticalPathSeconds: 0,
    expectedWorkSeconds: 0,
    doneWorkSeconds: 0,
    startedAt: null,
    ...overrides,
  }
}

export interface SnapshotParts {
  readonly projects?: readonly EnforcementProject[]
  readonly budgets?: Readonly<Record<string, readonly BudgetRuleConfig[]>>
  readonly entries?: readonly LedgerEntry[]
  readonly jobs: readonly EnforcementJob[]
  readonly freeGpus?: Readonly<Record<string, number>>
  readonly runningAtHardCap?: 'finish' | 'cancel'
  readonly gpuWeights?: Readonly<Record<string, Readonly<Record<string, number>>>>
}

export function snapshotOf(parts: SnapshotParts): EnforcementSnapshot {
  const names = new Set([...Object.keys(parts.budgets ?? {}), ...parts.jobs.map((j) => j.project)])
  return {
    projects: parts.projects ?? [...names].map((name) => projectOf(name)),
    budget: {
      kind: 'ledger',
      rules: Object.entries(parts.budgets ?? {}).flatMap(([project, budgets]) => budgetRulesOf(project, budgets)),
      entries: parts.entries ?? [],
      gpuWeights: parts.gpuWeights ?? {},
    },
    jobs: parts.jobs,
    runningAtHardCap: parts.runningAtHardCap ?? 'finish',
    ...(parts.freeGpus ? { freeGpus: parts.freeGpus } : {}),
  }
}

export function actionsOf<K extends EnforcementAction['kind']>(
  plan: EnforcementPlan,
  kind: K,
): Extract<EnforcementAction, { kind: K }>[] {
  return plan.actions.filter((a): a is Extract<EnforcementAction, { kind: K }> => a.kind === kind)
}

export function explanationOf(plan: EnforcementPlan, jobId: string) {
  const found = plan.explanations.find((e) => e.jobId === jobId)
  if (!found) throw new Error(`no explanation for ${jobId}`)
  return found
}
