/**
 * The sentences of enforcement: why a running job is stopped, left to finish or runs over a soft
 * cap, and how a refusal ends for its project. A tick can say the same sentence thousands of times
 * (a long queue behind one reached cap), so sentences about a line are built once per line and
 * outcome, and endings once per project. Pure.
 */
import type { BookLine } from '../budget/budget-admission.js'
import { describeOwner, formatAmount } from '../budget/budget-rules.js'
import { describeScope } from '../budget/tres-hours.js'
import { softSentence } from './soft-give-back.js'

/** The endings of refusal sentences, one string per project and outcome so BudgetBook can memo by them. */
export class RefusalEndings {
  readonly #known = new Map<string, { readonly hold: string; readonly held: string }>()
  readonly #deadlines: ReadonlyMap<string, string | null>

  constructor(deadlines: ReadonlyMap<string, string | null>) {
    this.#deadlines = deadlines
  }

  of(project: string, outcome: 'hold' | 'stays held'): string {
    let endings = this.#known.get(project)
    if (!endings) {
      const note = deadlineNote(this.#deadlines.get(project))
      endings = { hold: `${note}: hold`, held: `${note}: stays held` }
      this.#known.set(project, endings)
    }
    return outcome === 'hold' ? endings.hold : endings.held
  }
}

export function softRunSentence(line: BookLine): string {
  return `${softSentence(line)}: runs while no in-budget work waits for what it holds`
}

/** Sentences about one line whose totals stay put during a pass, built once per line and outcome. */
export class LineSentences {
  readonly #known = new Map<BookLine, Map<string, string>>()

  say(
    line: BookLine,
    outcome: string,
    build: (line: BookLine, deadline: string | null | undefined) => string,
    deadline: string | null | undefined,
  ): string {
    const byOutcome = this.#known.get(line) ?? new Map<string, string>()
    if (byOutcome.size === 0) this.#known.set(line, byOutcome)
    let sentence = byOutcome.get(outcome)
    if (sentence === undefined) {
      sentence = build(line, deadline)
      byOutcome.set(outcome, sentence)
    }
    return sentence
  }
}

export function requeueSentence(line: BookLine, deadline: string | null | undefined): string {
  return `${reachedSentence(line)}${deadlineNote(deadline)}: checkpoint and requeue on hold`
}

export function cancelSentence(line: BookLine, deadline: string | null | undefined): string {
  return `${reachedSentence(line)}${deadlineNote(deadline)}: it cannot checkpoint, and the policy at a hard cap is to cancel`
}

export function finishSentence(line: BookLine, deadline: string | null | undefined): string {
  return `${reachedSentence(line)}${deadlineNote(deadline)}: it cannot checkpoint, and the policy at a hard cap is to let it finish`
}

function reachedSentence(line: BookLine): string {
  const s = line.status
  return `${describeOwner(s)} reached its hard ${describeScope(s)} cap: used ${formatAmount(line.used)} >= ${formatAmount(s.effective)} (${s.window.label})`
}

function deadlineNote(deadline: string | null | undefined): string {
  return deadline ? `; the hard cap wins over its deadline ${deadline}` : ''
}
