/**
 * Checkpoint problems end to end: a real task on the local executor (Debian's /usr/bin/python3 and a
 * tiny trainer on templates/checkpoint/rpo_checkpoint.py) saves checkpoints, is asked to checkpoint
 * (`rpo checkpoint`'s requestCheckpoint), exits 85 and is resumed by the engine. Between its exit and
 * the tick that resumes it, the test damages the checkpoint folder: the newest checkpoint (a flipped
 * byte), the manifest, or events.jsonl. The resumed attempt falls back as docs/checkpointing.md says,
 * and what the helper reported reaches the app's event log (`checkpoint.skipped`,
 * `checkpoint.problem`) and the webhooks configured for it (a real HTTP receiver on 127.0.0.1).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { appendFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadPipelineFile } from '../../src/config/load-pipeline.js'
import { type App, createApp } from '../../src/create-app.js'
import { checkpointEventsForAttempt } from '../../src/engine/checkpoint-report.js'
import { requestCheckpoint } from '../../src/engine/checkpoint-task.js'
import type { Engine } from '../../src/engine/engine.js'
import type { RpoEvent } from '../../src/events/event-schemas.js'
import { createWebhookDispatcher } from '../../src/notify/webhook-dispatcher.js'
import { type Receiver, startReceiver } from '../notify/webhook-receiver.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const TEMPLATES = path.join(ROOT, 'templates/checkpoint')
// Debian's python: the `python3` on PATH may be another interpreter
const PYTHON = process.env.RPO_TEST_PYTHON ?? '/usr/bin/python3'
const STEPS = 400

// a counter "trained" one step at a time; the state is a pickled dict saved every 5 steps and on the
// signal. The first attempt is slow (it must still run when asked to checkpoint), a resumed one quick.
// Each start says where it resumed from in starts.log; the end writes the step and running total.
const TRAINER = `
import json, os, sys, time
sys.path.insert(0, ${JSON.stringify(TEMPLATES)})
from rpo_checkpoint import Checkpointer, PickleState

ckpt = Checkpointer()
restored = ckpt.load_latest(PickleState(None))
state = restored.value if restored else {"step": 0, "total": 0}
with open(os.path.join(os.environ["RPO_OUTPUT_DIR"], "starts.log"), "a") as f:
    f.write(json.dumps({"attempt": int(os.environ["RPO_ATTEMPT"]), "step": state["step"],
                        "file": restored.entry["file"] if restored else None}) + "\\n")
ckpt.install_signal_handler()
slow = os.environ.get("RPO_RESUME") != "1"
while state["step"] < ${STEPS}:
    step = state["step"] + 1
    state = {"step": step, "total": state["total"] + step}
    if slow:
        time.sleep(0.1)
    ckpt.maybe_save(step, dict(state))
    if ckpt.should_stop():
        ckpt.exit_for_resume()
with open(os.environ["RPO_OUTPUTS"], "w") as f:
    json.dump(state, f)
`

interface Entry {
  readonly file: string
  readonly step: number
}

interface HelperLine {
  readonly event: string
  readonly attempt: number
  readonly file?: string
  readonly step?: number
  readonly reason?: string
  readonly skipped?: number
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * An app on a local cluster with two webhooks: `ops` with the default types, `ckpt` with the
 * checkpoint types; the dispatcher started and both cursors placed before the run starts.
 */
async function setUp() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-ckpt-events-'))
  const ops = await startReceiver(() => 200)
  const ckpt = await startReceiver(() => 200)
  writeFileSync(
    path.join(dir, 'rpo.config.yaml'),
    `
defaultCluster: box
clusters:
  box: { kind: local, cpus: 2, memory: 4G, killGrace: 2s, pollInterval: 100ms }
webhooks:
  - { name: ops, url: "${ops.url}" }
  - { name: ckpt, url: "${ckpt.url}", types: [checkpoint.skipped, checkpoint.problem] }
`,
  )
  writeFileSync(path.join(dir, 'trainer.py'), TRAINER)
  writeFileSync(
    path.join(dir, 'pipeline.yaml'),
    `
name: ckpt-events
project: vision
tasks:
  train:
    command: exec ${PYTHON} trainer.py
    env: { PYTHONDONTWRITEBYTECODE: "1" }
    resources: { time: 10m }
    checkpoint: { every: 5steps, keep: 3, maxResumes: 3 }
`,
  )
  const app = await createApp({ configPath: path.join(dir, 'rpo.config.yaml'), env: {}, eventPollIntervalMs: 50 })
  const hooks = createWebhookDispatcher(app, { pollIntervalMs: 50, env: {} })
  hooks.start()
  cleanups.push(async () => {
    await hooks.stop()
    await app.close()
    await ops.close()
    await ckpt.close()
    rmSync(dir, { recursive: true, force: true })
  })
  await until(
    'the hooks’ cursors',
    async () =>
      (await app.store.notifications.cursor('ops')) !== null && (await app.store.notifications.cursor('ckpt')) !== null,
  )
  return { dir, app, receivers: { ops, ckpt } }
}

/**
 * Runs the task until its first attempt saved at least two checkpoints, asks it to checkpoint,
 * waits for its exit 85 without ticking, lets `damage` break the checkpoint folder, then ticks
 * until the run ends (the resume happens in the first of those ticks).
 */
async function runWithDamage(app: App, dir: string, damage: (checkpoints: string, entries: Entry[]) => Promise<void>) {
  const engine: Engine = await app.engineFor()
  const runId = (await engine.startRun(loadPipelineFile(path.join(dir, 'pipeline.yaml')))).run.id
  const checkpoints = path.join(dir, '.rpo/runs', runId, 'train/checkpoints')
  const status = path.join(dir, '.rpo/jobs', `rpo.${runId}.train.1`, 'status.json')
  const saves = () => helperLines(checkpoints).filter((l) => l.event === 'checkpoint:saved' && l.attempt === 1)
  await until('attempt 1 to run and save twice', async () => {
    await engine.tick(runId)
    const attempt = (await app.store.loadSnapshot(runId)).snapshot.latestAttempts[0]
    return attempt?.state === 'running' && saves().length >= 2
  })
  await requestCheckpoint(app.store, engine.adapter, runId, 'train', new Date().toISOString())
  await until(
    'attempt 1 to exit',
    () => existsSync(status) && JSON.parse(readFileSync(status, 'utf8')).state !== 'running',
  )
  expect(JSON.parse(readFileSync(status, 'utf8'))).toMatchObject({ exitCode: 85 })
  const entries = manifestEntries(checkpoints)
  expect(entries.length).toBeGreaterThanOrEqual(2)
  await damage(checkpoints, entries)
  let state = 'running'
  await until('the run to end', async () => {
    state = (await engine.tick(runId)).state
    return state !== 'running'
  })
  expect(state).toBe('succeeded')
  const starts = readFileSync(path.join(dir, '.rpo/runs', runId, 'train/starts.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { attempt: number; step: number; file: string | null })
  const outputs = JSON.parse(readFileSync(path.join(dir, '.rpo/jobs', `rpo.${runId}.train.2`, 'outputs.json'), 'utf8'))
  return { runId, checkpoints, entries, starts, outputs }
}

function helperLines(checkpoints: string): HelperLine[] {
  const file = path.join(checkpoints, 'events.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as HelperLine]
      } catch {
        return []
      }
    })
}

function manifestEntries(checkpoints: string): Entry[] {
  return JSON.parse(readFileSync(path.join(checkpoints, 'manifest.json'), 'utf8')).checkpoints
}

function flipByte(file: string): void {
  const bytes = readFileSync(file)
  const middle = Math.floor(bytes.length / 2)
  bytes[middle] = (bytes[middle] as number) ^ 0x01
  writeFileSync(file, bytes)
}

/** What a receiver got, after giving the dispatcher time to send anything more. */
async function received(receiver: Receiver, atLeast: number): Promise<RpoEvent[]> {
  await receiver.waitFor(atLeast)
  await new Promise((r) => setTimeout(r, 500))
  return receiver.requests.map((q) => JSON.parse(q.body) as RpoEvent)
}

const TOTAL = (STEPS * (STEPS + 1)) / 2
const TORN = '{"event": "checkpoint:saved", "attempt": 1, "fi'

describe('checkpoint problems, from the job-side helper to the event log and webhooks', () => {
  it('a corrupted newest checkpoint is skipped for the older good one: checkpoint.skipped, sent with the default types', async () => {
    const { dir, app, receivers } = await setUp()
    let corrupted: Entry | undefined
    const { runId, entries, starts, outputs, checkpoints } = await runWithDamage(app, dir, async (folder, entries) => {
      corrupted = entries.at(-1)
      flipByte(path.join(folder, corrupted?.file as string))
    })
    const good = entries.at(-2) as Entry
    const newest = corrupted as Entry
    expect(newest.step).toBeGreaterThan(good.step)

    // the resumed attempt loaded the older, good checkpoint and finished from there, state intact
    expect(starts).toEqual([
      { attempt: 1, step: 0, file: null },
      { attempt: 2, step: good.step, file: good.file },
    ])
    expect(outputs).toEqual({ step: STEPS, total: TOTAL })
    const helper = helperLines(checkpoints).filter((l) => l.attempt === 2)
    expect(helper.map((l) => l.event).slice(0, 2)).toEqual(['checkpoint:skipped', 'checkpoint:loaded'])

    // stored once, on the task, saying which checkpoint was skipped and why
    const skipped = await app.events.list({ types: ['checkpoint.skipped'] })
    expect(skipped).toEqual([
      expect.objectContaining({
        type: 'checkpoint.skipped',
        runId,
        project: 'vision',
        taskId: 'train',
        payload: {
          attempt: 2,
          file: newest.file,
          step: newest.step,
          reason: expect.stringMatching(/^sha256 mismatch: .*\(corrupted\)$/),
          message: expect.stringContaining(`attempt 2 skipped a checkpoint (${newest.file}, step ${newest.step})`),
        },
      }),
    ])
    // and the rest of the story around it: the request, the resume
    const around = await app.events.list({
      types: ['checkpoint.warned', 'attempt.resumed', 'checkpoint.problem'],
      runId,
    })
    expect(around.map((e) => e.type)).toEqual(['checkpoint.warned', 'attempt.resumed'])
    expect(around[0]).toMatchObject({ taskId: 'train', payload: { attempt: 1, signal: 'USR2' } })

    // the hook with the default types hears of it (and of nothing else this run does), once
    const opsGot = await received(receivers.ops, 1)
    expect(opsGot).toEqual([skipped[0]])
    expect(receivers.ops.requests[0]?.headers['x-rpo-event-id']).toBe(String(skipped[0]?.id))
    expect(await received(receivers.ckpt, 1)).toEqual([skipped[0]])
  }, 90_000)

  it('an unreadable manifest is rebuilt from the sidecars on resume: checkpoint.problem, only to the hook that asks', async () => {
    const { dir, app, receivers } = await setUp()
    const { runId, entries, starts, outputs, checkpoints } = await runWithDamage(app, dir, async (folder) => {
      const manifest = path.join(folder, 'manifest.json')
      const text = readFileSync(manifest, 'utf8')
      writeFileSync(manifest, text.slice(0, Math.floor(text.length / 2)))
    })
    // the sidecars are intact: the newest checkpoint is loaded
    const newest = entries.at(-1) as Entry
    expect(starts.at(-1)).toEqual({ attempt: 2, step: newest.step, file: newest.file })
    expect(outputs).toEqual({ step: STEPS, total: TOTAL })

    const rebuilt = helperLines(checkpoints).filter((l) => l.event === 'checkpoint:manifest-rebuilt')
    expect(rebuilt.length).toBeGreaterThanOrEqual(1)
    expect(rebuilt.every((l) => l.attempt === 2 && /^manifest unreadable/.test(l.reason ?? ''))).toBe(true)
    // each rebuild the helper reported is one stored event on the task, with the attempt
    const problems = await app.events.list({ types: ['checkpoint.problem', 'checkpoint.skipped'] })
    expect(problems).toHaveLength(rebuilt.length)
    for (const event of problems)
      expect(event).toMatchObject({
        type: 'checkpoint.problem',
        runId,
        project: 'vision',
        taskId: 'train',
        payload: {
          attempt: 2,
          problem: 'manifest-rebuilt',
          message: expect.stringMatching(/^attempt 2 rebuilt the checkpoint manifest: manifest unreadable/),
        },
      })

    // checkpoint.problem is not among the default types: only the hook that names it hears of it
    expect(await received(receivers.ckpt, problems.length)).toEqual(problems)
    expect(receivers.ops.requests).toEqual([])
  }, 90_000)

  it('a line of events.jsonl cut short is reported as a checkpoint.problem, never fatal', async () => {
    const { dir, app } = await setUp()
    const { runId, starts, outputs } = await runWithDamage(app, dir, async (folder) => {
      // a write cut short by a crash (its newline kept: the next attempt's first line stays whole)
      await appendFile(path.join(folder, 'events.jsonl'), `${TORN}\n`)
    })
    expect(starts.at(-1)?.attempt).toBe(2)
    expect(outputs).toEqual({ step: STEPS, total: TOTAL })
    const problems = await app.events.list({ types: ['checkpoint.problem'], runId })
    // said once, by the attempt that ended with it; not again by the attempt after it
    expect(problems).toHaveLength(1)
    for (const event of problems)
      expect(event).toMatchObject({
        taskId: 'train',
        payload: {
          attempt: null,
          problem: 'unreadable-events',
          message: '1 line(s) of events.jsonl are not JSON (a write cut short?); ignored',
        },
      })
  }, 90_000)
})

// Every attempt of a task appends to one events.jsonl: a line torn during attempt 1 is said when
// attempt 1 ends, and not again at attempt 2's end (it was, at every later attempt's end).
describe('checkpointEventsForAttempt and a torn line of an earlier attempt', () => {
  it('does not report it again when a later attempt ends', () => {
    const line = (event: Record<string, unknown>) => JSON.stringify({ protocol: 1, ...event })
    const text = [
      line({ event: 'checkpoint:saved', attempt: 1, file: 'ckpt-0000000005-000001.pkl', step: 5 }),
      TORN,
      line({ event: 'checkpoint:loaded', attempt: 2, file: 'ckpt-0000000005-000001.pkl', step: 5, skipped: 0 }),
    ].join('\n')
    expect(checkpointEventsForAttempt('train', 1, text).filter((e) => e.data?.unreadable)).toHaveLength(1)
    expect(checkpointEventsForAttempt('train', 2, text).filter((e) => e.data?.unreadable)).toEqual([])
  })
})
