/**
 * Live progress of a followed run on the terminal: one line per meaningful event, and on a TTY a
 * status line kept at the bottom (done/running/pending, elapsed vs expected). Writes to stderr so
 * stdout stays clean for --json output.
 */
import { formatDuration } from '../core/pipeline/units.js'
import type { EngineEvents } from '../engine/engine-events.js'
import type { RunProgress } from '../monitor/run-progress.js'
import { renderCounts } from './format.js'
import { type TextSink, toTerminalText } from './terminal-text.js'

export interface ProgressReporterOptions {
  /** The raw terminal: the reporter cleans its text itself and adds its own status-line escapes. */
  readonly stream: TextSink
  readonly clock?: () => number
}

export class ProgressReporter {
  readonly #stream: TextSink
  readonly #isTty: boolean
  readonly #clock: () => number
  #statusShown = false
  #lastSummaryAt = 0

  constructor(options: ProgressReporterOptions) {
    this.#stream = options.stream
    this.#isTty = Boolean(options.stream.isTTY)
    this.#clock = options.clock ?? Date.now
  }

  /**
   * Print `events` as they come; with `runId`, only that run's: an engine ticks a whole cluster, so
   * it also reports the other runs it moves. Errors that concern the whole cluster are printed too.
   */
  attach(events: EngineEvents, runId?: string): () => void {
    const mine = (e: object) => {
      const of = (e as { readonly runId?: string }).runId
      return runId === undefined || of === undefined || of === runId
    }
    const on: EngineEvents['on'] = (name, listener) => events.on(name, (e) => (mine(e) ? listener(e) : undefined))
    const offs = [
      on('task:submitted', (e) =>
        this.line(`→ ${e.taskId} submitted${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`),
      ),
      on('task:started', (e) => this.line(`▶ ${e.taskId} started`)),
      on('task:succeeded', (e) => this.line(`✓ ${e.taskId} succeeded`)),
      on('task:failed', (e) => this.line(`✗ ${e.taskId} failed: ${e.message}`)),
      on('task:retrying', (e) => this.line(`↻ ${e.taskId} ${e.message}`)),
      on('task:resuming', (e) => this.line(`⟳ ${e.taskId} ${e.message}`)),
      on('task:checkpoint', (e) => this.line(`${e.data?.warning ? '!' : '⚑'} ${e.taskId} ${e.message}`)),
      on('task:skipped', (e) => this.line(`- ${e.taskId} skipped: ${e.message}`)),
      on('task:upstream-failed', (e) => this.line(`✗ ${e.taskId} will not run: ${e.message}`)),
      on('task:cancelled', (e) => this.line(`■ ${e.taskId} cancelled`)),
      on('task:expanded', (e) => this.line(`⋔ ${e.taskId} ${e.message}`)),
      on('task:lost', (e) => this.line(`? ${e.taskId} ${e.message}`)),
      // tick errors: a failed poll, a budget step, a checkpoint report; the engine carries on each time
      on('tick:error', (e) => {
        this.line(
          e.cause.code === 'budget-invalid'
            ? `! budget problem: ${e.cause.message}`
            : `! ${e.cause.message} (${e.cause.code}); will retry next tick`,
        )
      }),
      on('submit:error', (e) => this.line(`! submission failed (${e.code}): ${e.message}`)),
    ]
    return () => {
      for (const off of offs) off()
    }
  }

  line(text: string): void {
    const time = new Date(this.#clock()).toTimeString().slice(0, 8)
    this.#clearStatus()
    this.#stream.write(`${time}  ${toTerminalText(text)}\n`)
  }

  /** Show the summary: continuously on a TTY, every 30 s otherwise. */
  status(progress: RunProgress): void {
    const text = `[${progress.done}/${progress.total} done${renderCounts(progress.counts) ? `: ${renderCounts(progress.counts)}` : ''}] elapsed ${formatDuration(progress.elapsedSeconds)}${progress.expectedRemainingSeconds > 0 ? `, ~${formatDuration(progress.expectedRemainingSeconds)} of work left` : ''}`
    if (this.#isTty) {
      this.#stream.write(`\r\x1b[K${toTerminalText(text)}`)
      this.#statusShown = true
      return
    }
    const now = this.#clock()
    if (now - this.#lastSummaryAt >= 30_000) {
      this.#lastSummaryAt = now
      this.line(text)
    }
  }

  finish(): void {
    this.#clearStatus()
  }

  #clearStatus(): void {
    if (this.#statusShown) {
      this.#stream.write('\r\x1b[K')
      this.#statusShown = false
    }
  }
}
