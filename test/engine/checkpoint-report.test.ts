// What rpo says about a checkpointing attempt's checkpoints when it ends, read from the helper's
// events.jsonl (docs/checkpointing.md): warnings for skipped (corrupt) checkpoints, failed saves and
// a rebuilt manifest; where it resumed from and what it saved; torn lines counted, never fatal.
import { describe, expect, it } from 'vitest'
import { checkpointEventsForAttempt } from '../../src/engine/checkpoint-report.js'

const line = (event: Record<string, unknown>) =>
  JSON.stringify({ protocol: 1, time: '2026-11-28T10:00:00.000Z', restart: 0, job_id: '42', pid: 7, ...event })

describe('checkpointEventsForAttempt', () => {
  const text = [
    line({ event: 'checkpoint:saved', attempt: 1, file: 'ckpt-0000000100-000001.pt', step: 100 }),
    line({ event: 'checkpoint:exit', attempt: 1, code: 85, step: 120 }),
    line({
      event: 'checkpoint:skipped',
      attempt: 2,
      file: 'ckpt-0000000120-000002.pt',
      step: 120,
      reason: 'sha256 mismatch: 5f… != 9a… (corrupted)',
    }),
    line({ event: 'checkpoint:loaded', attempt: 2, file: 'ckpt-0000000100-000001.pt', step: 100, skipped: 1 }),
    '{"event": "checkpoint:saved", "attempt": 2, "fi',
    line({ event: 'checkpoint:saved', attempt: 2, file: 'ckpt-0000000150-000003.pt', step: 150 }),
    line({ event: 'checkpoint:saved', attempt: 2, file: 'ckpt-0000000200-000004.pt', step: 200 }),
    line({
      event: 'checkpoint:save-failed',
      attempt: 2,
      step: 250,
      reason: 'OSError: [Errno 28] No space left on device',
    }),
  ].join('\n')

  it('reports the skipped checkpoint and the failed save as warnings, with the helper’s reasons', () => {
    const events = checkpointEventsForAttempt('train', 2, text)
    expect(events.map((e) => e.message)).toEqual([
      'attempt 2 skipped a checkpoint (ckpt-0000000120-000002.pt, step 120): sha256 mismatch: 5f… != 9a… (corrupted)',
      'attempt 2 could not save a checkpoint (step 250): OSError: [Errno 28] No space left on device',
      'attempt 2 resumed from step 100 (ckpt-0000000100-000001.pt); saved 2 checkpoint(s), the last at step 200 (ckpt-0000000200-000004.pt)',
      '1 line(s) of events.jsonl are not JSON (a write cut short?); ignored',
    ])
    expect(events.every((e) => e.type === 'task:checkpoint' && e.taskId === 'train')).toBe(true)
    expect(events.filter((e) => e.data?.warning).length).toBe(3)
  })

  it('reads only the attempt asked for, torn lines included (attempt 2 tore the one above)', () => {
    expect(checkpointEventsForAttempt('train', 1, text).map((e) => e.message)).toEqual([
      'attempt 1 saved 1 checkpoint(s), the last at step 100 (ckpt-0000000100-000001.pt)',
    ])
    expect(checkpointEventsForAttempt('train', 3, '')).toEqual([])
  })

  it('says torn lines before any readable one with the attempt of the first readable line, or alone', () => {
    const torn = '{"event": "checkpoint:sa'
    const first = [torn, line({ event: 'checkpoint:saved', attempt: 1, file: 'ckpt-0000000001-000001.pt', step: 1 })]
    const unreadable = (attempt: number, lines: string[]) =>
      checkpointEventsForAttempt('train', attempt, lines.join('\n')).filter((e) => e.data?.unreadable)
    expect(unreadable(1, first)).toHaveLength(1)
    expect(unreadable(2, first)).toEqual([])
    expect(unreadable(1, [torn])).toHaveLength(1)
  })
})
