/**
 * Field schemas shared by the pipeline and config schemas, each with the bound that keeps rpo safe
 * from what a value would do later: names short enough for job folders and scheduler job names,
 * durations that fit a timer, environment names a shell can export, signals a job can catch,
 * deadlines that are instants. Pure (zod only).
 */
import { z } from 'zod'
import { isZonedDateTime, ZONED_DATE_TIME_EXPECTED } from '../text/iso-date-time.js'
import { formatDuration, parseDurationSeconds } from './units.js'

/**
 * Task, pipeline, project and cluster names. 64 characters keeps the longest submission key
 * (`rpo.<pipeline>-<stamp>.<task>.<index>.array.<attempt>`, ~180 bytes), which names each job folder,
 * under the 255-byte file-name limit, and fits scheduler job names.
 */
export const MAX_NAME_LENGTH = 64
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/

export const nameSchema = (what: string) =>
  z
    .string()
    .max(MAX_NAME_LENGTH, {
      error: (issue) =>
        `a ${what} of ${String(issue.input).length} characters is too long: at most ${MAX_NAME_LENGTH} characters (job folders and scheduler job names are made from it)`,
    })
    .regex(NAME_PATTERN, {
      error: `expected a ${what} made of letters, digits, '_' and '-' (starting with a letter or digit)`,
    })

/** The longest duration rpo accepts anywhere in a pipeline: a year (timers and scheduler limits overflow beyond). */
export const MAX_DURATION_SECONDS = 365 * 86_400

export interface DurationBounds {
  /** Refuse zero (a time limit of zero kills the task as it starts). */
  readonly positive?: boolean
  readonly minSeconds?: number
  readonly maxSeconds?: number
  readonly example?: string
}

export const durationSchema = (bounds: DurationBounds = {}) =>
  z.union([z.number(), z.string()]).superRefine((value, ctx) => {
    const seconds = parseDurationSeconds(value)
    const max = bounds.maxSeconds ?? MAX_DURATION_SECONDS
    if (seconds === null) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration such as ${bounds.example ?? '90s, 15m, 2h30m or 01:30:00'}`,
      })
    } else if (bounds.positive && seconds <= 0) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration longer than zero' })
    } else if (bounds.minSeconds !== undefined && seconds < bounds.minSeconds) {
      ctx.addIssue({ code: 'custom', message: `expected at least ${describeSeconds(bounds.minSeconds)}` })
    } else if (seconds > max) {
      ctx.addIssue({ code: 'custom', message: `expected at most ${describeSeconds(max)}` })
    }
  })

function describeSeconds(seconds: number): string {
  if (seconds === MAX_DURATION_SECONDS) return '365 days'
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`
  return seconds % 3600 === 0 ? `${seconds / 3600}h` : formatDuration(seconds)
}

export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/
export const envNameSchema = z.string().regex(ENV_NAME_PATTERN, {
  error: 'expected an environment variable name matching [A-Za-z_][A-Za-z0-9_]*',
})

/**
 * Signals a job can trap to checkpoint, and Slurm's `--signal` knows by name (its list, 22.05: HUP INT
 * QUIT ABRT KILL ALRM TERM USR1 USR2 URG CONT STOP TSTP TTIN TTOU XCPU); never KILL or STOP, which
 * cannot be caught, nor the job-control and abort ones.
 */
export const CHECKPOINT_SIGNALS = ['USR2', 'USR1', 'TERM', 'INT', 'HUP', 'QUIT', 'ALRM', 'URG', 'CONT', 'XCPU'] as const

export const signalSchema = z.string().regex(new RegExp(`^(SIG)?(${CHECKPOINT_SIGNALS.join('|')})$`), {
  error: `expected a signal the job can catch: ${CHECKPOINT_SIGNALS.join(', ')} (with or without SIG)`,
})

export const deadlineSchema = z.string().refine(isZonedDateTime, { error: ZONED_DATE_TIME_EXPECTED })
