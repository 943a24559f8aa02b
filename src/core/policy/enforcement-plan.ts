/**
 * Budget and priority enforcement for one tick: snapshot + now → scheduler actions (hold,
 * release, requeue, cancel, setNice), each with a reason sentence, and an explanation for every
 * job. PURE and deterministic, whatever the order of jobs and projects. The rules, as applied:
 *  (c) a running job of an owner at or over a HARD cap (used + accrued ≥ effective, e.g. after a
 *      budget cut or a revoke) is checkpointed and requeued on hold; one that cannot checkpoint
 *      follows `runningAtHardCap` ('finish' lets it run out, 'cancel' stops it);
 *  (a)(b) pending and rpo-held jobs, in priority order, are admitted against the hard caps with
 *      what running jobs may still use reserved first, reserving as it goes: a pending job that
 *      does not fit is held, an rpo-held job that fits again is released — so two releases never
 *      together cross a cap. Jobs held by their user are never released;
 *  (d) soft caps (soft-give-back.ts): over-soft work runs while capacity would idle, and is the
 *      first to be checkpoint-requeued when in-budget work waits for its GPU type;
 *  (e) every job left pending gets a nice value from its rank (nice-levels.ts).
 * Fail closed: a project whose budget cannot be judged (budget-judgement.ts) has its pending jobs
 * held and its rpo-held jobs kept held, with the problem as the reason; its running jobs run on
 * (a setting rpo cannot read is no reason to destroy work). Other projects are judged as usual.
 * A deadline that is not a date is ranked as no deadline, and said.
 * A hard cap is checked at each tick, so a running job may overshoot it by at most one tick of usage.
 */
import { type BookLine, BudgetBook } from '../budget/budget-admission.js'
import { type BudgetProblem, deadlineProblem, judgeBudgets } from '../budget/budget-judgement.js'
import { LineMeter } from '../budget/line-meter.js'
import {
  cancelSentence,
  finishSentence,
  LineSentences,
  RefusalEndings,
  requeueSentence,
  softRunSentence,
} from './enforcement-sentences.js'
import type {
  EnforcementAction,
  EnforcementJob,
  EnforcementPlan,
  EnforcementSnapshot,
  JobDecision,
  JobExplanation,
  JudgedJobs,
} from './enforcement-snapshot.js'
import { planNice } from './nice-levels.js'
import { rankTasks, scoreProjects, type TaskView } from './priority-score.js'
import { planSoftGiveBack } from './soft-give-back.js'

export type {
  EnforcementAction,
  EnforcementBudget,
  EnforcementJob,
  EnforcementPlan,
  EnforcementProject,
  EnforcementSnapshot,
  JobDecision,
  JobExplanation,
} from './enforcement-snapshot.js'

const EPSILON = 1e-9
const PENDING = 0
const HELD = 1
const RUNNING = 2
/** How a job's reason is kept: said now (in `reason`), or as the numbers of a sentence built on read. */
const NOW_SAID = 0
const REFUSED = 1
const FITS = 2
const NO_CAP = 'no hard cap counts it'

const JOB_VIEW: TaskView<EnforcementJob> = {
  id: (job) => job.jobId,
  project: (job) => job.project,
  criticalPathSeconds: (job) => job.criticalPathSeconds ?? 0,
  readySince: (job) => job.readySince,
  overSoft: () => undefined,
}

export function decideEnforcement(snapshot: EnforcementSnapshot, now: number): EnforcementPlan {
  const budget = snapshot.budget
  // the input's fields in the order BudgetRound passes them: one object shape at every call, so the
  // optimized judgeBudgets is not thrown away (an object spread made a shape of its own)
  const judgement =
    budget.kind === 'statuses'
      ? { statuses: budget.statuses, problems: budget.problems ?? [] }
      : judgeBudgets({
          rules: budget.rules,
          entries: budget.entries,
          commitments: [],
          gpuWeights: budget.gpuWeights,
          now,
        })
  const statuses = judgement.statuses
  const problems: BudgetProblem[] = [...(snapshot.problems ?? []), ...judgement.problems]
  const projectInputs = snapshot.projects.map((p) => {
    const problem = p.deadline === null ? null : deadlineProblem(p.project, p.deadline, `project ${p.project}`)
    if (problem === null) return p
    if (!problems.some((known) => known.kind === 'deadline' && known.project === p.project)) problems.push(problem)
    return { ...p, deadline: null }
  })
  const unjudged = new Map<string, BudgetProblem>()
  for (const problem of problems) {
    if (problem.kind === 'budget' && !unjudged.has(problem.project)) unjudged.set(problem.project, problem)
  }
  const book = new BudgetBook(statuses, false)
  const jobs = snapshot.jobs
  const count = jobs.length
  // states as small integers: the rank-order passes skip most jobs without touching their records
  const state = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    const s = (jobs[i] as EnforcementJob).state
    state[i] = s === 'running' ? RUNNING : s === 'held' ? HELD : PENDING
  }
  // accrue in id order, so the sums (and so every decision) do not depend on the order jobs came in
  const accruing = jobs.filter((job) => job.state === 'running' && job.unchargedHours)
  accruing.sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
  const lineMeter = new LineMeter()
  let accrued = new Float64Array(8)
  for (const job of accruing) {
    if (!job.unchargedHours) continue
    const own = book.linesFor(job.project, job.user)
    if (own.length > accrued.length) accrued = new Float64Array(own.length)
    lineMeter.meter(job.unchargedHours, own, accrued)
    book.accrueAmounts(own, accrued)
  }

  // rank, with tiers from the soft caps as they stand (accrued usage included)
  const projectScores = scoreProjects(
    projectInputs.map((p) => ({ ...p, overSoft: book.linesFor(p.project, null).some(isSoftExceeded) })),
    now,
  )
  const lines = new Array<readonly BookLine[]>(count)
  let widest = 0
  for (let i = 0; i < count; i++) {
    const job = jobs[i] as EnforcementJob
    const own = book.linesFor(job.project, job.user)
    lines[i] = own
    if (own.length > widest) widest = own.length
  }
  // what each job counts per hour on each of its owner's lines, metered once for every pass below
  const perHour = new Float64Array(count * widest)
  const overSoftLine = new Array<BookLine | null>(count)
  for (let i = 0; i < count; i++) {
    const job = jobs[i] as EnforcementJob
    const own = lines[i] as readonly BookLine[]
    let soft: BookLine | null = null
    lineMeter.meter(job.rate, own, perHour, i * widest)
    for (let k = 0; k < own.length; k++) {
      const line = own[k] as BookLine
      if (soft === null && (perHour[i * widest + k] as number) > 0 && isSoftExceeded(line)) soft = line
    }
    overSoftLine[i] = soft
  }
  const ranking = rankTasks(jobs, projectScores, { ...JOB_VIEW, overSoft: (_, i) => overSoftLine[i] !== null })
  const judged: JudgedJobs = {
    jobs,
    ranking,
    overSoftLine,
    decision: new Array<JobDecision>(count).fill('run'),
    reason: new Array<string>(count).fill(''),
    nice: new Array<number | null>(count).fill(null),
  }
  const deadlines = new Map(projectInputs.map((p) => [p.project, p.deadline]))
  // one buffer for what the job at hand counts on each of its owner's lines
  const amounts = new Float64Array(widest)
  const meter = (i: number) => {
    const job = jobs[i] as EnforcementJob
    const own = lines[i] as readonly BookLine[]
    if (job.worstCase) lineMeter.meter(job.worstCase, own, amounts)
    else {
      const hoursLeft = Math.max(0, job.timeLimitSeconds - job.elapsedSeconds) / 3600
      for (let k = 0; k < own.length; k++) amounts[k] = (perHour[i * widest + k] as number) * hoursLeft
    }
    return amounts
  }
  const hardReached = (i: number): BookLine | null => {
    const own = lines[i] as readonly BookLine[]
    for (let k = 0; k < own.length; k++) {
      const line = own[k] as BookLine
      if (isHardReached(line) && (perHour[i * widest + k] as number) > 0) return line
    }
    return null
  }

  const stops: EnforcementAction[] = []
  const holds: EnforcementAction[] = []
  const releases: EnforcementAction[] = []

  // (c) running jobs at a hard cap stop; the others keep what they may still use reserved
  const sentences = new LineSentences()
  for (let r = 0; r < count; r++) {
    const i = ranking.order[r] as number
    if (state[i] !== RUNNING) continue
    const job = jobs[i] as EnforcementJob
    const problem = unjudged.get(job.project)
    if (problem) {
      judged.reason[i] = `${problem.message}: it runs on; new work of the project waits`
      continue
    }
    const reached = hardReached(i)
    if (!reached) {
      const soft = overSoftLine[i]
      judged.reason[i] = soft ? sentences.say(soft, 'soft-run', softRunSentence, null) : 'running within its hard caps'
      book.reserveAmounts(lines[i] as readonly BookLine[], meter(i))
      continue
    }
    const deadline = deadlines.get(job.project)
    const ruleId = reached.status.ruleId
    const { jobId, attemptKey } = job
    if (job.checkpointable) {
      const reason = sentences.say(reached, 'requeue', requeueSentence, deadline)
      stops.push({ kind: 'requeue', hold: true, checkpoint: true, ruleId, jobId, attemptKey, reason })
      setDecision(judged, i, 'requeue', reason)
    } else if (snapshot.runningAtHardCap === 'cancel') {
      const reason = sentences.say(reached, 'cancel', cancelSentence, deadline)
      stops.push({ kind: 'cancel', ruleId, jobId, attemptKey, reason })
      setDecision(judged, i, 'cancel', reason)
    } else {
      setDecision(judged, i, 'finish', sentences.say(reached, 'finish', finishSentence, deadline))
      book.reserveAmounts(lines[i] as readonly BookLine[], meter(i))
    }
  }

  // (a)(b) pending and rpo-held jobs against the hard caps, in rank order, reserving as they go.
  // Only actions carry their sentence now; a job that stays held or waits keeps the numbers of its
  // sentence (which line, the job's amount, the line's totals then) and is explained on read.
  const endings = new RefusalEndings(deadlines)
  const later = new Uint8Array(count)
  const laterLine = new Int8Array(count)
  const laterAmount = new Float64Array(count)
  const laterUsed = new Float64Array(count)
  const laterCommitted = new Float64Array(count)
  const keepForLater = (i: number, kind: number, k: number, line: BookLine, amount: number) => {
    later[i] = kind
    laterLine[i] = k
    laterAmount[i] = amount
    laterUsed[i] = line.used
    laterCommitted[i] = line.committed
  }
  for (let r = 0; r < count; r++) {
    const i = ranking.order[r] as number
    const st = state[i]
    if (st === RUNNING) continue
    const job = jobs[i] as EnforcementJob
    if (st === HELD && !job.heldByRpo) {
      setDecision(judged, i, 'user-held', 'held by its user: rpo never releases it')
      continue
    }
    const pending = st === PENDING
    const problem = unjudged.get(job.project)
    if (problem) {
      const reason = `${problem.message}: ${pending ? 'hold' : 'stays held'}`
      setDecision(judged, i, pending ? 'hold' : 'keep-held', reason)
      if (pending)
        holds.push({ kind: 'hold', ruleId: problem.source, jobId: job.jobId, attemptKey: job.attemptKey, reason })
      continue
    }
    const own = lines[i] as readonly BookLine[]
    const jobAmounts = meter(i)
    const refusing = book.firstRefusal(own, jobAmounts)
    if (refusing >= 0) {
      const line = own[refusing] as BookLine
      if (pending) {
        const reason = book.refusalReason(line, jobAmounts[refusing] as number, endings.of(job.project, 'hold'))
        setDecision(judged, i, 'hold', reason)
        holds.push({ kind: 'hold', ruleId: line.status.ruleId, jobId: job.jobId, attemptKey: job.attemptKey, reason })
      } else {
        judged.decision[i] = 'keep-held'
        keepForLater(i, REFUSED, refusing, line, jobAmounts[refusing] as number)
      }
      continue
    }
    const k = book.tightestLine(own, jobAmounts)
    const fit = own[k]
    if (pending) {
      judged.decision[i] = 'wait'
      if (fit) keepForLater(i, FITS, k, fit, jobAmounts[k] as number)
      else judged.reason[i] = NO_CAP
    } else {
      const fits = fit ? `fits ${book.fitReason(fit, jobAmounts[k] as number)}` : NO_CAP
      const reason = `${fits}: release`
      releases.push({ kind: 'release', jobId: job.jobId, attemptKey: job.attemptKey, reason })
      setDecision(judged, i, 'release', reason)
    }
    book.reserveAmounts(own, jobAmounts)
  }
  const reasonOf = (i: number): string => {
    const kind = later[i]
    if (kind === NOW_SAID) return judged.reason[i] as string
    const line = (lines[i] as readonly BookLine[])[laterLine[i] as number] as BookLine
    const amount = laterAmount[i] as number
    const [used, committed] = [laterUsed[i] as number, laterCommitted[i] as number]
    if (kind === FITS) return `fits ${book.fitReason(line, amount, used, committed)}`
    const ending = endings.of((jobs[i] as EnforcementJob).project, 'stays held')
    return book.refusalReasonAt(line, amount, used, committed, ending)
  }

  const softStops = planSoftGiveBack(judged, snapshot, now)
  const nices = planNice(judged)
  const explain = (): JobExplanation[] => {
    const projectsById = new Map(projectScores.map((p) => [p.project, p]))
    return Array.from(ranking.order, (i) => {
      const job = jobs[i] as EnforcementJob
      return {
        jobId: job.jobId,
        attemptKey: job.attemptKey,
        runId: job.runId,
        taskId: job.taskId,
        project: job.project,
        state: job.state,
        rank: ranking.rank[i] as number,
        score: ranking.score[i] as number,
        projectScore: ranking.projectScore[i] as number,
        pathFraction: ranking.pathFraction[i] as number,
        terms: projectsById.get(job.project)?.terms ?? null,
        overSoft: ranking.overSoft[i] === 1,
        decision: judged.decision[i] as JobDecision,
        nice: judged.nice[i] ?? null,
        reason: reasonOf(i),
      }
    })
  }
  let explanations: JobExplanation[] | null = null
  return {
    actions: [...stops, ...softStops, ...holds, ...releases, ...nices],
    // built on first read: a tick acts on the actions alone, and 10,000 explanations are most of
    // what a decision would otherwise allocate; `rpo explain` and reports read them
    get explanations() {
      explanations ??= explain()
      return explanations
    },
    projectScores,
    statuses,
    problems,
  }
}

function setDecision(judged: JudgedJobs, i: number, decision: JobDecision, reason: string): void {
  judged.decision[i] = decision
  judged.reason[i] = reason
}

function isHardReached(line: BookLine): boolean {
  return line.status.cap === 'hard' && line.used >= line.status.effective - EPSILON
}

function isSoftExceeded(line: BookLine): boolean {
  return line.status.cap === 'soft' && line.used >= line.status.effective - EPSILON
}
