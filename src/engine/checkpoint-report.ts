/**
 * What a checkpointing attempt's job said about its checkpoints, surfaced in rpo's own events when
 * the attempt ends: the job-side helper's `events.jsonl` (docs/checkpointing.md) read for that
 * attempt — checkpoints skipped as corrupt or missing, failed saves, a rebuilt manifest (warnings),
 * and where it resumed from and last saved. The parsing is pure; the engine reads the file.
 */
import type { PlannedEvent } from '../core/scheduling/plan-tick.js'

interface HelperEvent {
  readonly event: string
  readonly attempt?: number
  readonly file?: string
  readonly step?: number
  readonly reason?: string
  readonly skipped?: number
}

const WARNINGS: Readonly<Record<string, string>> = {
  'checkpoint:skipped': 'skipped a checkpoint',
  'checkpoint:save-failed': 'could not save a checkpoint',
  'checkpoint:manifest-rebuilt': 'rebuilt the checkpoint manifest',
}

/**
 * rpo events for one ended attempt, from the text of its task's `events.jsonl`. Lines that are not
 * JSON objects (a write cut short by a crash) are counted and said once, never fatal: by the attempt
 * that wrote them, taken to be the attempt of the readable line before them (of the first readable
 * line when none is before), since every attempt of the task appends to the same file and the
 * next one's end must not say them again.
 */
export function checkpointEventsForAttempt(taskId: string, attempt: number, text: string): PlannedEvent[] {
  const events: PlannedEvent[] = []
  let unreadable = 0
  // unreadable lines before the first readable one: whose they are is known only at that line
  let unreadableBeforeAny = 0
  let writer: number | undefined
  let loaded: HelperEvent | null = null
  let lastSaved: HelperEvent | null = null
  let saves = 0
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      parsed = null
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      if (writer === undefined) unreadableBeforeAny++
      else if (writer === attempt) unreadable++
      continue
    }
    const event = parsed as HelperEvent
    if (writer === undefined && event.attempt === attempt) unreadable += unreadableBeforeAny
    if (typeof event.attempt === 'number') writer = event.attempt
    if (event.attempt !== attempt || typeof event.event !== 'string') continue
    const warning = WARNINGS[event.event]
    if (warning) {
      const what = [event.file, event.step === undefined ? null : `step ${event.step}`].filter(Boolean).join(', ')
      events.push({
        type: 'task:checkpoint',
        taskId,
        message: `attempt ${attempt} ${warning}${what ? ` (${what})` : ''}${event.reason ? `: ${event.reason}` : ''}`,
        data: { ...event, warning: true },
      })
    } else if (event.event === 'checkpoint:loaded') loaded = event
    else if (event.event === 'checkpoint:saved') {
      lastSaved = event
      saves++
    }
  }
  if (loaded || lastSaved) {
    const parts = [
      loaded ? `resumed from step ${loaded.step} (${loaded.file})` : null,
      lastSaved ? `saved ${saves} checkpoint(s), the last at step ${lastSaved.step} (${lastSaved.file})` : null,
    ].filter(Boolean)
    events.push({
      type: 'task:checkpoint',
      taskId,
      message: `attempt ${attempt} ${parts.join('; ')}`,
      data: { attempt, loadedStep: loaded?.step ?? null, lastSavedStep: lastSaved?.step ?? null, saves },
    })
  }
  // nothing readable at all: said by this attempt rather than by none
  if (writer === undefined) unreadable += unreadableBeforeAny
  if (unreadable > 0) {
    events.push({
      type: 'task:checkpoint',
      taskId,
      message: `${unreadable} line(s) of events.jsonl are not JSON (a write cut short?); ignored`,
      data: { unreadable, warning: true },
    })
  }
  return events
}
