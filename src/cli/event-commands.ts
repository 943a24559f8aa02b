/**
 * `rpo events`: the event log on the command line — the newest events, the events after an id,
 * filtered by type, project and run, and followed as they are stored until Ctrl-C. Text for
 * people (one line per event), or --json: one JSON object per line, the shape of RpoEventSchema,
 * so a script can resume with `--after <the last id it read>`.
 */
import { type Command, InvalidArgumentError } from 'commander'
import { RpoError } from '../core/errors.js'
import type { EventFilter } from '../events/event-log.js'
import { EVENT_TYPES, type EventType, isEventType, type RpoEvent } from '../events/event-schemas.js'
import { positiveCount } from './cli-arguments.js'
import type { CommandContext } from './command-context.js'

/** More than this in one listing is an export; page with --after instead. */
const MAX_LISTED = 100_000

interface EventsOptions {
  after?: number
  type?: string[]
  project?: string[]
  run?: string
  follow?: boolean
  json?: boolean
  limit?: number
}

const CATEGORIES = [...new Set(EVENT_TYPES.map((t) => t.split('.')[0] as string))]

export function registerEventCommands(program: Command, context: CommandContext): void {
  program
    .command('events')
    .description(
      'show the event log: run, task and attempt changes, resumes, checkpoint warnings, budget actions, tick errors, node failures',
    )
    .option('--after <id>', 'the events after this event id, oldest first (default: the newest --limit)', eventId)
    .option(
      '--type <type>',
      `only this type, or a whole category (${CATEGORIES.join(', ')}); repeat for several`,
      collect,
    )
    .option('--project <project>', 'only this project; repeat for several', collect)
    .option('--run <run>', 'only this run (id or a unique prefix)')
    .option(
      '-n, --limit <count>',
      `events to list (1 to ${MAX_LISTED}; default 20, or 1000 with --after)`,
      positiveCount(MAX_LISTED),
    )
    .option('-f, --follow', 'then keep printing events as they are stored, until Ctrl-C (exit 0)')
    .option('--json', 'one JSON object per line (id, at, type, project, runId, taskId, payload)')
    .addHelpText(
      'after',
      `
Event types:
  ${EVENT_TYPES.join('\n  ')}

Examples:
  rpo events --type run --type task.state        runs starting and ending, task changes
  rpo events --project vision --follow --json    a project's events as they happen, as JSON lines
  rpo events --after 1200 -n 500                 the next page after event 1200`,
    )
    .action(async (options: EventsOptions) => {
      const types = expandTypes(options.type ?? [])
      const projects = options.project ?? []
      await context.withApp(async (app) => {
        const filter: EventFilter = {
          ...(types.length > 0 ? { types } : {}),
          ...(projects.length > 0 ? { projects } : {}),
          ...(options.run ? { runId: await context.resolveRunId(app, options.run) } : {}),
        }
        const print = (event: RpoEvent) => context.out(options.json ? JSON.stringify(event) : renderEvent(event))
        const listed =
          options.after !== undefined
            ? await app.events.list({ ...filter, afterId: options.after, limit: options.limit ?? 1000 })
            : await app.events.list({ ...filter, newest: true, limit: options.limit ?? 20 })
        for (const event of listed) print(event)
        if (!options.follow) {
          if (listed.length === 0 && !options.json) context.out(noEventsText(options, app.store.description))
          return
        }
        const fromId = listed.at(-1)?.id ?? options.after ?? (await app.events.lastId())
        await followUntilInterrupted(app.events.follow.bind(app.events), fromId, filter, print)
      })
    })
}

/** Follow until SIGINT or SIGTERM: the usual way to stop a follower, so it ends with exit 0. */
async function followUntilInterrupted(
  follow: (options: { fromId: number; filter: EventFilter; signal: AbortSignal }) => AsyncIterable<RpoEvent>,
  fromId: number,
  filter: EventFilter,
  print: (event: RpoEvent) => void,
): Promise<void> {
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    for await (const event of follow({ fromId, filter, signal: abort.signal })) print(event)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

function expandTypes(given: readonly string[]): EventType[] {
  const types = new Set<EventType>()
  for (const text of given) {
    if (isEventType(text)) {
      types.add(text)
      continue
    }
    if (!CATEGORIES.includes(text))
      throw new RpoError(
        'usage',
        `unknown event type "${text}"; the types are ${EVENT_TYPES.join(', ')} (or a category: ${CATEGORIES.join(', ')})`,
      )
    for (const type of EVENT_TYPES) if (type.startsWith(`${text}.`)) types.add(type)
  }
  return [...types]
}

function renderEvent(event: RpoEvent): string {
  const where = [event.project, event.runId, event.taskId].filter((part) => part !== null).join(' ')
  return `#${event.id}  ${event.at.replace('T', ' ').slice(0, 19)}  ${event.type.padEnd(18)}  ${where}${where ? '  ' : ''}${summaryOf(event)}`
}

/** The payload in a few words; --json has all of it. */
function summaryOf(event: RpoEvent): string {
  switch (event.type) {
    case 'run.started':
      return `${event.payload.pipeline} on ${event.payload.cluster}, ${event.payload.tasks} task(s)${event.payload.user ? `, by ${event.payload.user}` : ''}`
    case 'run.state':
      return `${event.payload.from} → ${event.payload.to}`
    case 'run.finished':
      return event.payload.state
    case 'task.state':
      return `${event.payload.from} → ${event.payload.to}${event.payload.reason ? `: ${event.payload.reason}` : ''}`
    case 'attempt.state': {
      const p = event.payload
      const job = p.jobId ? ` job ${p.jobId}` : ''
      return `attempt ${p.attempt}${job} ${p.from ?? 'new'} → ${p.to}${p.exitCode !== null ? ` (exit ${p.exitCode})` : ''}${p.reason ? `: ${p.reason}` : ''}`
    }
    case 'attempt.resumed':
      return event.payload.reason
    case 'checkpoint.warned':
    case 'checkpoint.skipped':
    case 'checkpoint.problem':
      return event.payload.message
    case 'budget.action':
      return `${event.payload.action} job ${event.payload.jobId}: ${event.payload.reason}`
    case 'tick.error':
      return `${event.payload.cluster} ${event.payload.step}: ${event.payload.message} (${event.payload.code})`
    case 'node.failed':
      return `job ${event.payload.jobId ?? '?'} (attempt ${event.payload.attempt}) on ${event.payload.nodes.join(', ') || 'an unnamed node'}`
    case 'deadline.at-risk': {
      const p = event.payload
      const late =
        p.slackSeconds < 0
          ? `${Math.round(-p.slackSeconds / 60)} min late`
          : `${Math.round(p.slackSeconds / 60)} min to spare`
      return `${p.state}: projected ${p.projectedEnd}, deadline ${p.deadline} (${late})`
    }
    case 'budget.threshold': {
      const p = event.payload
      return `${p.budget} ${p.level}: ${p.percent} % of ${p.effective} ${p.resource} used (${p.period})${p.level === 'projected' && p.projectedExhaustion ? `, runs out ${p.projectedExhaustion}` : ''}`
    }
    case 'bottleneck.changed':
      return `${event.payload.from} → ${event.payload.to}`
    case 'webhook.failed':
      return `${event.payload.hook} gave up on event #${event.payload.eventId} after ${event.payload.attempts} attempt(s): ${event.payload.error}`
  }
}

function noEventsText(options: EventsOptions, description: string): string {
  const filtered = options.type !== undefined || options.project !== undefined || options.run !== undefined
  const after = options.after !== undefined ? ` after #${options.after}` : ''
  return `no events${after}${filtered ? ' matching the filters' : ''} in ${description}`
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** An event id: a whole number of 0 or more (0: from the first event). */
function eventId(text: string): number {
  const trimmed = text.trim()
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed)))
    throw new InvalidArgumentError(`expected an event id (a whole number of 0 or more), got "${text}"`)
  return Number(trimmed)
}
