/**
 * The data of one enforcement decision: the snapshot decideEnforcement reads (jobs, projects,
 * budgets, free capacity), the plan it returns (actions with reasons, one explanation per job),
 * and the working state its rule modules share while they fill the plan in.
 */
import type { BookLine } from '../budget/budget-admission.js'
import type { BudgetProblem } from '../budget/budget-judgement.js'
import type { BudgetLedger } from '../budget/budget-ledger.js'
import type { BudgetRule } from '../budget/budget-rules.js'
import type { BudgetStatus } from '../budget/budget-status.js'
import type { TresHours } from '../budget/tres-hours.js'
import type { ProjectPriorityInput, ProjectScore, ScoreTerms, TaskRanking } from './priority-score.js'

export interface EnforcementJob {
  readonly jobId: string
  /** The attempt's submission key. */
  readonly attemptKey: string
  readonly runId: string
  readonly taskId: string
  readonly project: string
  readonly user: string | null
  readonly state: 'pending' | 'held' | 'running'
  /** True when rpo put the hold (budget); false for a user's hold, which rpo never releases. */
  readonly heldByRpo: boolean
  readonly currentNice: number | null
  /** The GPU type it runs on or asked for; null for CPU work or any type. */
  readonly gpuType: string | null
  /** GPU devices it holds or asks for. */
  readonly gpus: number
  /** TRES-hours per hour of wall time (`tresHoursOf(allocTres, 3600)`). */
  readonly rate: TresHours
  /** What it may still use at most. @default rate × max(0, timeLimit − elapsed) */
  readonly worstCase?: TresHours
  readonly elapsedSeconds: number
  readonly timeLimitSeconds: number
  readonly checkpointable: boolean
  /** ISO; when the task became ready (ties break earliest first). */
  readonly readySince: string
  /** The task's remaining critical path (itself and what waits on it), seconds. @default 0 */
  readonly criticalPathSeconds?: number
  /** Running jobs: usage since the last charge, not yet in the ledger. @default zero */
  readonly unchargedHours?: TresHours
}

export type EnforcementProject = Omit<ProjectPriorityInput, 'overSoft'>

/**
 * Budget statuses as computed (their `committed` is ignored: jobs are re-reserved here) with the
 * problems of the projects that could not be judged, or their inputs.
 */
export type EnforcementBudget =
  | {
      readonly kind: 'statuses'
      readonly statuses: readonly BudgetStatus[]
      /** From the same judgeBudgets call: those projects' work is held. @default none */
      readonly problems?: readonly BudgetProblem[]
    }
  | {
      readonly kind: 'ledger'
      readonly rules: readonly BudgetRule[]
      readonly entries: BudgetLedger
      readonly gpuWeights: Readonly<Record<string, Readonly<Record<string, number>>>>
    }

export interface EnforcementSnapshot {
  readonly projects: readonly EnforcementProject[]
  readonly budget: EnforcementBudget
  readonly jobs: readonly EnforcementJob[]
  /** Idle GPUs per type right now; absent when the scheduler does not say. */
  readonly freeGpus?: Readonly<Record<string, number>>
  /** A running job at a hard cap that cannot checkpoint. */
  readonly runningAtHardCap: 'finish' | 'cancel'
  /** Without `freeGpus`: how long in-budget work must wait before it counts as contended. @default 300 */
  readonly contentionAfterSeconds?: number
  /**
   * What the caller already found it cannot judge (a project's settings it could not read, a
   * deadline that is not a date); merged with what the decision finds itself. @default none
   */
  readonly problems?: readonly BudgetProblem[]
}

interface JobRef {
  readonly jobId: string
  readonly attemptKey: string
  readonly reason: string
}

export type EnforcementAction =
  | (JobRef & { readonly kind: 'requeue'; readonly hold: boolean; readonly checkpoint: true; readonly ruleId: string })
  | (JobRef & { readonly kind: 'cancel'; readonly ruleId: string })
  | (JobRef & { readonly kind: 'hold'; readonly ruleId: string })
  | (JobRef & { readonly kind: 'release' })
  | (JobRef & { readonly kind: 'setNice'; readonly nice: number })

export type JobDecision =
  | 'run'
  | 'finish'
  | 'requeue'
  | 'cancel'
  | 'wait'
  | 'hold'
  | 'release'
  | 'keep-held'
  | 'user-held'

export interface JobExplanation {
  readonly jobId: string
  readonly attemptKey: string
  readonly runId: string
  readonly taskId: string
  readonly project: string
  readonly state: EnforcementJob['state']
  /** 0 = first, over all jobs of the snapshot. */
  readonly rank: number
  readonly score: number
  readonly projectScore: number
  readonly pathFraction: number
  readonly terms: ScoreTerms | null
  readonly overSoft: boolean
  readonly decision: JobDecision
  /** The nice it should have (pending jobs only). */
  readonly nice: number | null
  readonly reason: string
}

export interface EnforcementPlan {
  /** Requeues and cancels first, then holds, releases and nice changes, each in rank order. */
  readonly actions: readonly EnforcementAction[]
  /** One per job, in rank order. */
  readonly explanations: readonly JobExplanation[]
  readonly projectScores: readonly ProjectScore[]
  /** Of the projects that could be judged. */
  readonly statuses: readonly BudgetStatus[]
  /**
   * Budgets that cannot be judged (that project's pending work is held, its held work stays held)
   * and deadlines ranked without: each a sentence naming the project and the setting.
   */
  readonly problems: readonly BudgetProblem[]
}

/**
 * The planner's working state, one slot per job (its position in `jobs`), filled in as the rules
 * apply: what the hard-cap, soft-cap and nice modules read and write.
 */
export interface JudgedJobs {
  readonly jobs: readonly EnforcementJob[]
  readonly ranking: TaskRanking
  /** The soft line the job's owner has exceeded (and the job counts on), or null: its tier. */
  readonly overSoftLine: readonly (BookLine | null)[]
  readonly decision: JobDecision[]
  readonly reason: string[]
  readonly nice: (number | null)[]
}
