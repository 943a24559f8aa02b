/**
 * The shapes of rpo's events, in one place: the store validates what it reads back against them,
 * the TypeScript API types its iterator with them, and the HTTP API derives its JSON Schema and
 * OpenAPI document from them. An event is an envelope (id, time, what it concerns) around a payload
 * whose shape its `type` names.
 */
import { z } from 'zod'
import { JOB_STATES } from '../core/job/job-state.js'
import { TaskState } from '../core/scheduling/run-snapshot.js'

export const RunStateSchema = z.enum([
  'running',
  'interrupting',
  'interrupted',
  'cancelling',
  'succeeded',
  'failed',
  'cancelled',
])
export const TaskStateSchema = z.enum(Object.values(TaskState) as [TaskState, ...TaskState[]])
export const AttemptStateSchema = z.enum(['submitting', ...JOB_STATES])

const attemptNumber = z.number().int().positive()

/** Each event type's payload. */
export const EventPayloadSchemas = {
  /** A run was created (its tasks recorded, none submitted yet). */
  'run.started': z.object({
    pipeline: z.string(),
    cluster: z.string(),
    tasks: z.number().int().nonnegative(),
    user: z.string().nullable(),
  }),
  /** A run changed state without ending: a stop began, an interrupted run continued. */
  'run.state': z.object({ from: RunStateSchema, to: RunStateSchema }),
  /** A run ended: succeeded, failed or cancelled. */
  'run.finished': z.object({ from: RunStateSchema, state: RunStateSchema }),
  'task.state': z.object({
    from: TaskStateSchema,
    to: TaskStateSchema,
    /** Why, in words (the failure, the condition that skipped it, the retry planned). */
    reason: z.string().nullable(),
  }),
  /** An attempt was written (from null: `submitting`) or its job changed state. */
  'attempt.state': z.object({
    attempt: attemptNumber,
    submissionKey: z.string(),
    jobId: z.string().nullable(),
    from: AttemptStateSchema.nullable(),
    to: AttemptStateSchema,
    exitCode: z.number().int().nullable(),
    reason: z.string().nullable(),
  }),
  /** A checkpointing task's attempt ended and the task resumes from its checkpoint in a new attempt. */
  'attempt.resumed': z.object({
    /** Resumes so far, this one included. */
    resumes: z.number().int().nonnegative().nullable(),
    /** How the attempt ended (its job state) and its exit code. */
    endedAs: z.string().nullable(),
    exitCode: z.number().int().nullable(),
    reason: z.string(),
  }),
  /** rpo signalled a job to checkpoint: before its time limit, or because someone asked. */
  'checkpoint.warned': z.object({
    attempt: attemptNumber.nullable(),
    jobId: z.string().nullable(),
    signal: z.string().nullable(),
    message: z.string(),
  }),
  /** The job-side helper skipped a checkpoint it could not load (corrupt or missing). */
  'checkpoint.skipped': z.object({
    attempt: attemptNumber.nullable(),
    file: z.string().nullable(),
    step: z.number().nullable(),
    reason: z.string().nullable(),
    message: z.string(),
  }),
  /** Another checkpoint problem the job reported: a save that failed, a rebuilt manifest, unreadable events. */
  'checkpoint.problem': z.object({
    attempt: attemptNumber.nullable(),
    problem: z.string(),
    message: z.string(),
  }),
  /** Budget enforcement acted on a job: held, released, checkpointed to requeue, or cancelled it. */
  'budget.action': z.object({
    action: z.enum(['hold', 'release', 'requeue', 'cancel']),
    jobId: z.string(),
    attempt: attemptNumber.nullable(),
    reason: z.string(),
  }),
  /** A step of a tick failed; the round went on and the next one tries again. */
  'tick.error': z.object({
    cluster: z.string(),
    step: z.string(),
    code: z.string(),
    message: z.string(),
  }),
  /** A job ended because a node failed under it. */
  'node.failed': z.object({
    nodes: z.array(z.string()),
    jobId: z.string().nullable(),
    attempt: attemptNumber,
    submissionKey: z.string(),
  }),
  /**
   * A run's projected completion passed its deadline (`at-risk`), or no longer does (`recovered`).
   * Said once per change, however many processes tick the run (src/core/notify).
   */
  'deadline.at-risk': z.object({
    state: z.enum(['at-risk', 'recovered']),
    /** The projected completion (ISO 8601). */
    projectedEnd: z.string(),
    deadline: z.string(),
    /** Deadline − projected completion in seconds (negative: late). */
    slackSeconds: z.number(),
    /** The stage that contributes most to what remains, if any. */
    bottleneck: z.string().nullable(),
  }),
  /**
   * A budget reached 80 % (`warning`) or 100 % (`exhausted`) of its amount in its period, or its burn
   * rate says it runs out before the period ends (`projected`). Each level once per period.
   */
  'budget.threshold': z.object({
    level: z.enum(['warning', 'exhausted', 'projected']),
    /** The budget rule (`vision.budgets[0]`). */
    budget: z.string(),
    user: z.string().nullable(),
    resource: z.string(),
    gpuType: z.string().nullable(),
    cap: z.enum(['hard', 'soft']),
    /** used ÷ effective amount × 100 (rounded to 0.1). */
    percent: z.number(),
    used: z.number(),
    effective: z.number(),
    /** The budget's period: `month 2026-11`, `last 30 days`, `2026-01-01..2026-03-31`. */
    period: z.string(),
    /** When the burn rate runs it out (ISO 8601), null when not within the period. */
    projectedExhaustion: z.string().nullable(),
  }),
  /** The stage that contributes most to a run's remaining critical path changed. */
  'bottleneck.changed': z.object({
    from: z.string(),
    to: z.string(),
    remainingCriticalPathSeconds: z.number(),
  }),
  /** A webhook gave up delivering an event after its retries; the hook moved on to the next event. */
  'webhook.failed': z.object({
    hook: z.string(),
    eventId: z.number().int().positive(),
    eventType: z.string(),
    attempts: z.number().int().positive(),
    /** The receiver's last HTTP status; null when it never answered (refused, timed out). */
    status: z.number().int().nullable(),
    error: z.string(),
  }),
} as const

export type EventType = keyof typeof EventPayloadSchemas
export const EVENT_TYPES = Object.keys(EventPayloadSchemas) as EventType[]
export type EventPayload<T extends EventType> = z.infer<(typeof EventPayloadSchemas)[T]>

export function isEventType(text: string): text is EventType {
  return Object.hasOwn(EventPayloadSchemas, text)
}

interface Envelope<T extends EventType> {
  /** Increases with every event stored; resume a subscription after the last one seen. */
  readonly id: number
  /** When it happened (ISO 8601, UTC). */
  readonly at: string
  readonly type: T
  readonly project: string | null
  readonly runId: string | null
  readonly taskId: string | null
  readonly payload: EventPayload<T>
}

/** A stored event: the union over every type, discriminated by `type`. */
export type RpoEvent = { [T in EventType]: Envelope<T> }[EventType]
/** An event before the store gave it an id. */
export type NewRpoEvent = { [T in EventType]: Omit<Envelope<T>, 'id'> }[EventType]

const envelopeFields = {
  id: z.number().int().positive(),
  at: z.string(),
  project: z.string().nullable(),
  runId: z.string().nullable(),
  taskId: z.string().nullable(),
}

/** One stored event (JSON Schema: `z.toJSONSchema(RpoEventSchema)`). */
export const RpoEventSchema = z.discriminatedUnion(
  'type',
  EVENT_TYPES.map((type) =>
    z.object({ ...envelopeFields, type: z.literal(type), payload: EventPayloadSchemas[type] }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
) as unknown as z.ZodType<RpoEvent>
