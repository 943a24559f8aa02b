// A second rpo process for the store race tests: loads rpo (dist/) once, then serves rounds read
// from stdin, each a JSON array, so that two of these start their store work at the same instant:
//   ["open", store]                            prepare to open (and migrate) the store
//   ["start", store, config dir, pipeline]     prepare to start a run the way `rpo run` does (engine.startRun)
// It says "ready" once prepared, waits for a line "go", does the work, prints one JSON line. It keeps
// nothing from one round to the next but the loaded modules (each round has its own store and app),
// and exits when stdin ends.
import path from 'node:path'
import { createInterface } from 'node:readline'

const root = path.resolve(import.meta.dirname, '../..')
const { createApp, loadPipelineFile, openDatabase } = await import(path.join(root, 'dist/src/index.js'))

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
async function nextLine() {
  const { value, done } = await lines.next()
  return done ? null : value
}

for (;;) {
  const round = await nextLine()
  if (round === null) break
  const [action, store, dir, pipeline] = JSON.parse(round)
  const target = /^postgres(ql)?:\/\//.test(store)
    ? { kind: 'postgres', url: store }
    : { kind: 'sqlite', path: store, busyTimeoutMs: 10_000 }
  const app = action === 'start' ? await createApp({ cwd: dir, env: { RPO_STORE: store } }) : null
  const engine = app ? await app.engineFor() : null
  const loaded = pipeline ? loadPipelineFile(pipeline) : null

  process.stdout.write('ready\n')
  if ((await nextLine()) !== 'go') break
  try {
    if (action === 'open') {
      const opened = await openDatabase(target)
      await opened.db.destroy()
      process.stdout.write(`${JSON.stringify({ ok: true })}\n`)
    } else {
      const { run, resumed } = await engine.startRun(loaded)
      process.stdout.write(`${JSON.stringify({ ok: true, runId: run.id, resumed })}\n`)
    }
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, code: error.code ?? null, message: String(error.message) })}\n`)
  } finally {
    await app?.close()
  }
}
