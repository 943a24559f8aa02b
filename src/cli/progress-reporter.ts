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

  attach(events: EngineEvents): () => void {
    const offs = [
      events.on('task:submitted', (e) =>
        this.line(`→ ${e.taskId} submitted${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`),
      ),
      events.on('task:started', (e) => this.line(`▶ ${e.taskId} started`)),
      events.on('task:succeeded', (e) => this.line(`✓ ${e.taskId} succeeded`)),
      events.on('task:failed', (e) => this.line(`✗ ${e.taskId} failed: ${e.message}`)),
      events.on('task:retrying', (e) => this.line(`↻ ${e.taskId} ${e.message}`)),
      events.on('task:resuming', (e) => this.line(`⟳ ${e.taskId} ${e.message}`)),
      events.on('task:checkpoint', (e) => this.line(`${e.data?.warning ? '!' : '⚑'} ${e.taskId} ${e.message}`)),
      events.on('task:skipped', (e) => this.line(`- ${e.taskId} skipped: ${e.message}`)),
      events.on('task:upstream-failed', (e) => this.line(`✗ ${e.taskId} will not run: ${e.message}`)),
      events.on('task:cancelled', (e) => this.line(`■ ${e.taskId} cancelled`)),
      events.on('task:expanded', (e) => this.line(`⋔ ${e.taskId} ${e.message}`)),
      events.on('task:lost', (e) => this.line(`? ${e.taskId} ${e.message}`)),
      // tick errors: a failed poll, a budget step, a checkpoint report; the engine carries on each time
      events.on('poll:error', (e) =>
        this.line(
          e.code === 'budget-invalid'
            ? `! budget problem: ${e.message}`
            : `! ${e.message} (${e.code}); will retry next tick`,
        ),
      ),
      events.on('submit:error', (e) => this.line(`! submission failed (${e.code}): ${e.message}`)),
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
