/**
 * The commands that move runs: `rpo run` (start and follow, taking part in its clusters' ticks),
 * `rpo submit` (start, one tick, return), `rpo sync` (one tick per cluster, for cron) and
 * `rpo daemon` (ticks on a schedule, sharing clusters with other daemons through their leases).
 */
import type { Command } from 'commander'
import { loadPipelineFile } from '../config/load-pipeline.js'
import { formatDuration } from '../core/pipeline/units.js'
import type { App } from '../create-app.js'
import { followRun } from '../engine/follow-run.js'
import { clustersOf } from '../engine/run-clusters.js'
import { computeRunProgress } from '../monitor/run-progress.js'
import { startDaemon, syncOnce } from '../sync/sync-runs.js'
import { ExitCode } from './exit-codes.js'
import { renderRunProgress, renderTable } from './format.js'
import { ProgressReporter } from './progress-reporter.js'
import type { TextSink } from './terminal-text.js'

export interface RunCommandContext {
  readonly withApp: <T>(fn: (app: App) => Promise<T>) => Promise<T>
  readonly out: (text: string) => void
  /** Cleaned of control characters. */
  readonly io: { readonly stdout: TextSink; readonly stderr: TextSink }
  /** The raw terminal: only the progress reporter writes to it (its status line). */
  readonly terminal: { readonly stdout: TextSink; readonly stderr: TextSink }
  readonly setExitCode: (code: number) => void
}

export function registerRunCommands(program: Command, context: RunCommandContext): void {
  const { withApp, out, io, terminal, setExitCode } = context
  program
    .command('run')
    .description('run a pipeline and follow it to the end, showing progress (reruns continue an unfinished run)')
    .argument('<pipeline>', 'pipeline file (YAML or JSON)')
    .option('--cluster <name>', 'target cluster from the config')
    .option('--new', 'start a new run even if an unfinished run of the same file exists')
    .option('--json', 'print the final run summary as JSON on stdout')
    .option('-q, --quiet', 'no progress lines, only the summary')
    .action(async (file: string, options: { cluster?: string; new?: boolean; json?: boolean; quiet?: boolean }) => {
      const loaded = loadPipelineFile(file)
      setExitCode(
        await withApp(async (app) => {
          const engine = await app.engineFor(options.cluster ?? loaded.pipeline.cluster)
          const reporter = new ProgressReporter({ stream: terminal.stderr })
          const { run, resumed } = await engine.startRun(loaded, { resume: !options.new })
          // this process ticks the whole cluster(s) of its run: only its own run's events are shown
          const engines = await Promise.all(clustersOf(run).map((name) => app.engineFor(name)))
          const detachAll = options.quiet ? [] : engines.map((e) => reporter.attach(e.events, run.id))
          const detach = () => {
            for (const off of detachAll) off()
          }
          if (!options.quiet) {
            reporter.line(
              resumed
                ? `continuing run ${run.id} (same pipeline file, unfinished)`
                : `started run ${run.id} with ${loaded.instances.length} task(s) on ${run.cluster}`,
            )
          }
          const controller = new AbortController()
          let interrupts = 0
          const onSignal = () => {
            interrupts++
            if (interrupts > 1) {
              io.stderr.write('\nforced exit: running tasks may still be running; `rpo status` shows them\n')
              process.exit(ExitCode.interrupted)
            }
            io.stderr.write('\ninterrupting: stopping running tasks (Ctrl-C again to force)...\n')
            controller.abort()
          }
          process.on('SIGINT', onSignal)
          process.on('SIGTERM', onSignal)
          const cluster = app.config.clusters[run.cluster]
          try {
            const state = await followRun(engine, run.id, {
              pollIntervalMs: cluster?.pollIntervalMs ?? 1000,
              maxPollIntervalMs: cluster?.kind === 'local' ? cluster.pollIntervalMs : cluster?.maxPollIntervalMs,
              signal: controller.signal,
              onTick: async () => {
                if (options.quiet) return
                const { run: record, snapshot } = await app.store.loadSnapshot(run.id)
                reporter.status(computeRunProgress(record, snapshot, Date.now()))
              },
              onTransientError: (error) => reporter.line(`! ${error.message} (retrying)`),
            })
            if (controller.signal.aborted) {
              const { stopped } = await engine.stopRun(run.id, 'interrupt')
              reporter.finish()
              io.stderr.write(
                `interrupted: ${stopped} running task(s) stopped. Run \`rpo run ${file}\` again to continue, or \`rpo cancel ${run.id}\`.\n`,
              )
              return ExitCode.interrupted
            }
            reporter.finish()
            detach()
            // only `rpo cancel` (another process) cancels a run; it may still be stopping its jobs
            if (state === 'cancelling' || state === 'cancelled') {
              io.stderr.write(`run ${run.id} was cancelled (by rpo cancel)\n`)
              return ExitCode.runFailed
            }
            const { run: record, snapshot } = await app.store.loadSnapshot(run.id)
            const progress = computeRunProgress(record, snapshot, Date.now())
            if (options.json) out(JSON.stringify(progress, null, 2))
            else {
              const where =
                cluster?.kind === 'local' ? app.config.stateDir : `${cluster?.raw.workDir} on ${run.cluster}`
              out(
                `\n${renderRunProgress(progress)}\n\nrun ${state} in ${formatDuration(progress.elapsedSeconds)}; logs and outputs under ${where}`,
              )
            }
            return state === 'succeeded' ? ExitCode.ok : ExitCode.runFailed
          } finally {
            process.off('SIGINT', onSignal)
            process.off('SIGTERM', onSignal)
          }
        }),
      )
    })

  program
    .command('submit')
    .description('start a run and return at once; `rpo sync` or `rpo daemon` moves it along')
    .argument('<pipeline>', 'pipeline file (YAML or JSON)')
    .option('--cluster <name>', 'target cluster from the config')
    .option('--new', 'start a new run even if an unfinished run of the same file exists')
    .option('--json', 'print the run as JSON')
    .action(async (file: string, options: { cluster?: string; new?: boolean; json?: boolean }) => {
      const loaded = loadPipelineFile(file)
      await withApp(async (app) => {
        const engine = await app.engineFor(options.cluster ?? loaded.pipeline.cluster)
        const { run, resumed } = await engine.startRun(loaded, { resume: !options.new })
        const tick = await engine.tick(run.id)
        if (options.json) out(JSON.stringify({ runId: run.id, resumed, state: tick.state, submitted: tick.submitted }))
        else
          out(
            `${resumed ? 'continuing' : 'started'} run ${run.id}: ${tick.submitted} task(s) submitted; \`rpo status ${run.id}\` to follow`,
          )
      })
    })

  program
    .command('sync')
    .description('one tick for every cluster with unfinished runs: poll, decide, submit (for cron)')
    .option('--json', 'print per-run results as JSON')
    .action(async (options: { json?: boolean }) => {
      await withApp(async (app) => {
        const results = await syncOnce(app)
        if (options.json) out(JSON.stringify(results, null, 2))
        else if (results.length === 0) out('no unfinished runs')
        else
          out(
            renderTable(
              ['RUN', 'CLUSTER', 'STATE', 'SUBMITTED', 'CLUSTER CMDS', 'NOTE'],
              results.map((r) => [
                r.runId,
                r.cluster,
                r.state,
                String(r.submitted),
                String(r.schedulerCommands),
                r.error ?? r.note ?? '',
              ]),
            ),
          )
        if (results.some((r) => r.error)) setExitCode(ExitCode.storeError)
      })
    })

  program
    .command('daemon')
    .description(
      "keep every run moving on the config's sync.schedule (node-cron), and deliver the config's webhooks, until SIGTERM/SIGINT",
    )
    .action(async () => {
      await withApp(async (app) => {
        const hooks = app.config.webhooks.length
        io.stderr.write(
          `rpo daemon: syncing on "${app.config.sync.schedule}" with ${app.store.description}${hooks > 0 ? `; ${hooks} webhook(s)` : ''}\n`,
        )
        await startDaemon(app, { log: (line) => io.stderr.write(`${new Date().toISOString()} ${line}\n`) })
        io.stderr.write('rpo daemon: stopped\n')
      })
    })
}
