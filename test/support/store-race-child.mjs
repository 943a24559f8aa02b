// A second rpo process for the store race tests: loads rpo (dist/), says "ready", waits for "go" on
// stdin so that two of these start their store work at the same instant, then prints one JSON line.
//   open  <store>                         open (and migrate) the store
//   start <store> <config dir> <pipeline> start a run the way `rpo run` does (engine.startRun)
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '../..')
const { createApp, loadPipelineFile, openDatabase } = await import(path.join(root, 'dist/src/index.js'))
const [action, store, dir, pipeline] = process.argv.slice(2)

const target = /^postgres(ql)?:\/\//.test(store)
  ? { kind: 'postgres', url: store }
  : { kind: 'sqlite', path: store, busyTimeoutMs: 10_000 }
const app = action === 'start' ? await createApp({ cwd: dir, env: { RPO_STORE: store } }) : null
const engine = app ? await app.engineFor() : null
const loaded = pipeline ? loadPipelineFile(pipeline) : null

process.stdout.write('ready\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
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
