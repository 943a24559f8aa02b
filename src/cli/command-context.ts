/**
 * What a group of CLI commands receives from main.ts: the app (opened per command), the output, and
 * run lookups. Its own module so that command groups registering one another need not import each
 * other for it.
 */
import type { App } from '../create-app.js'

export interface CommandContext {
  readonly withApp: <T>(fn: (app: App) => Promise<T>) => Promise<T>
  readonly out: (text: string) => void
  /** The one unfinished run that has this task (for `explain` without --run). */
  readonly runWithTask: (app: App, taskId: string) => Promise<string>
  readonly resolveRunId: (app: App, prefix: string) => Promise<string>
}
