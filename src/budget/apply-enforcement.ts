/**
 * Carrying an enforcement plan out on one cluster: hold, release, checkpoint-and-requeue (a
 * signal; the job's exit 85 resumes its task), cancel and renice through the adapter, marking
 * the attempts in the store and recording a `budget:<action>` journal entry on the run (and with
 * it a `budget.action` event). Holds, releases, cancels and renices are sent as one scheduler
 * command per kind (per nice value): a round that holds thousands of jobs is one `scontrol hold`,
 * not thousands; checkpoint signals go one job each (a signal is not idempotent).
 * When such a command fails, its jobs are tried one by one, so one job the scheduler refuses (it
 * just ended) does not fail the others; each refusal is reported, never thrown. The marks and the
 * journal entries are written once per round.
 */
import type { BudgetProblem } from '../core/budget/budget-judgement.js'
import type { EnforcementAction, EnforcementPlan } from '../core/policy/enforcement-plan.js'
import { budgetActionEntry, type JournalEntry } from '../events/store-events.js'
import { asNativeJobId, type JobControl, type SchedulerAdapter } from '../scheduler/scheduler-adapter.js'
import type { RunStore } from '../store/run-store.js'
import type { JudgedJob } from './in-flight-jobs.js'

export interface EnforcementOutcome {
  readonly plan: EnforcementPlan
  /** Actions the adapter carried out; a failed one is reported, not thrown. */
  readonly applied: number
  readonly failures: readonly string[]
  /** Budgets that cannot be judged (their work is held) and deadlines ranked without: each a tick error. */
  readonly problems: readonly BudgetProblem[]
}

export interface EnforcementTarget {
  readonly clusterName: string
  readonly adapter: SchedulerAdapter
  readonly store: RunStore
  /** Attempts already asked to checkpoint, so a slow save is not signalled again every round. */
  readonly signalled: Set<string>
}

export async function applyEnforcement(
  plan: EnforcementPlan,
  jobs: readonly JudgedJob[],
  target: EnforcementTarget,
  now: number,
): Promise<EnforcementOutcome> {
  const { adapter, store, signalled } = target
  const byKey = new Map(jobs.map((j) => [j.attempt.submissionKey, j]))
  const failures: string[] = []
  const marks = new Map<string, AttemptMark>()
  const journal = new Map<string, JournalEntry[]>()
  const recorded = async (write: () => Promise<void>) => {
    try {
      await write()
      return true
    } catch (error) {
      failures.push(`recording what was done: ${error instanceof Error ? error.message : String(error)}`)
      return false
    }
  }
  let applied = 0
  for (const group of commandGroups(plan, byKey, target)) {
    // holds are marked before they are sent: a crash in between must not leave a job held that
    // looks held by its user (rpo never releases those); releases and renices after they are done
    const holds = group.command.kind === 'hold'
    if (holds && !(await recorded(() => store.budgets.markAttempts(marksOf(group.actions))))) continue
    const done = await carryOut(adapter, group, failures)
    // a hold the scheduler refused is not rpo's: its job is not held
    if (holds && done.length < group.actions.length) {
      const held = new Set(done)
      for (const planned of group.actions)
        if (!held.has(planned)) marks.set(planned.action.attemptKey, { heldReason: null })
    }
    for (const { action, judged } of done) {
      applied++
      if (action.kind === 'requeue') signalled.add(action.attemptKey)
      const mark = holds ? null : markOf(action)
      if (mark) marks.set(action.attemptKey, mark)
      if (action.kind === 'setNice') continue
      const events = journal.get(judged.attempt.runId) ?? []
      if (events.length === 0) journal.set(judged.attempt.runId, events)
      events.push(
        budgetActionEntry(
          action.kind,
          { taskId: judged.attempt.taskId, jobId: action.jobId, attempt: judged.attempt.attempt },
          action.reason,
        ),
      )
    }
  }
  const at = new Date(now).toISOString()
  await recorded(async () => {
    await store.budgets.markAttempts(marks)
    for (const [runId, events] of journal) await store.appendEvents(runId, events, at)
  })
  return { plan, applied, failures, problems: plan.problems }
}

type AttemptMark = { readonly heldReason?: string | null; readonly nice?: number | null }

interface PlannedAction {
  readonly action: EnforcementAction
  readonly judged: JudgedJob
}

/** Actions sent as one command: the same control (or a cancel) for every job in it. */
interface CommandGroup {
  readonly command: JobControl | { readonly kind: 'cancel' }
  readonly actions: PlannedAction[]
}

/**
 * The plan's actions this cluster can carry out, grouped into one command each, in the plan's
 * order of kinds (stops before holds before releases before renices).
 */
function commandGroups(
  plan: EnforcementPlan,
  byKey: ReadonlyMap<string, JudgedJob>,
  { adapter, clusterName, signalled }: EnforcementTarget,
): CommandGroup[] {
  const groups = new Map<string, CommandGroup>()
  const add = (name: string, command: CommandGroup['command'], planned: PlannedAction) => {
    const group = groups.get(name) ?? { command, actions: [] }
    if (group.actions.length === 0) groups.set(name, group)
    group.actions.push(planned)
  }
  for (const action of plan.actions) {
    const judged = byKey.get(action.attemptKey)
    if (!judged || judged.attempt.cluster !== clusterName) continue
    const planned = { action, judged }
    switch (action.kind) {
      case 'requeue': {
        // checkpoint and stop: the exit 85 resumes the task, and admission submits it held
        const signal = judged.definition.checkpoint?.signal
        if (signalled.has(action.attemptKey) || !signal || !adapter.capabilities.signal) continue
        // one command per job: a signal is not idempotent, and retrying a failed group job by job
        // would signal twice those the failed command had reached
        add(`signal ${action.attemptKey}`, { kind: 'signal', signal }, planned)
        break
      }
      case 'cancel':
        add('cancel', { kind: 'cancel' }, planned)
        break
      case 'hold':
      case 'release':
        if (adapter.capabilities.hold) add(action.kind, { kind: action.kind }, planned)
        break
      case 'setNice':
        if (adapter.capabilities.priority) add(`nice ${action.nice}`, { kind: 'nice', nice: action.nice }, planned)
        break
    }
  }
  return [...groups.values()]
}

/** One command for the group; when it fails, each job on its own. Returns the actions done. */
async function carryOut(
  adapter: SchedulerAdapter,
  { command, actions }: CommandGroup,
  failures: string[],
): Promise<PlannedAction[]> {
  const send = (planned: readonly PlannedAction[]) => {
    const ids = planned.map(({ action }) => asNativeJobId(action.jobId))
    return command.kind === 'cancel' ? adapter.cancel(ids) : adapter.control(ids, command)
  }
  try {
    await send(actions)
    return actions
  } catch (error) {
    if (actions.length === 1) {
      failures.push(failureOf(actions[0] as PlannedAction, error))
      return []
    }
  }
  const done: PlannedAction[] = []
  for (const planned of actions) {
    try {
      await send([planned])
      done.push(planned)
    } catch (error) {
      failures.push(failureOf(planned, error))
    }
  }
  return done
}

function failureOf({ action }: PlannedAction, error: unknown): string {
  return `${action.kind} ${action.jobId}: ${error instanceof Error ? error.message : String(error)}`
}

function marksOf(actions: readonly PlannedAction[]): Map<string, AttemptMark> {
  const marks = new Map<string, AttemptMark>()
  for (const { action } of actions) {
    const mark = markOf(action)
    if (mark) marks.set(action.attemptKey, mark)
  }
  return marks
}

/** What the store keeps of an action: held (with why) or released, the nice given. */
function markOf(action: EnforcementAction): AttemptMark | null {
  switch (action.kind) {
    case 'hold':
      return { heldReason: action.reason }
    case 'release':
      return { heldReason: null }
    case 'setNice':
      return { nice: action.nice }
    default:
      return null
  }
}
