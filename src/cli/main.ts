/**
 * The rpo command line (commander). The only place that prints or exits: commands call the library,
 * render its results as text or --json, and map errors to the documented exit codes.
 */
import { Command, CommanderError, Option } from 'commander'
import { z } from 'zod'
import { explainTask, renderExplanation } from '../budget/explain-task.js'
import { ConfigSchema } from '../config/config-schema.js'
import { loadPipelineFile } from '../config/load-pipeline.js'
import { isRpoError, RpoError, SpecError } from '../core/errors.js'
import { PipelineSchema } from '../core/pipeline/pipeline-schema.js'
import { formatDuration } from '../core/pipeline/units.js'
import { type App, createApp } from '../create-app.js'
import { requestCheckpoint } from '../engine/checkpoint-task.js'
import { loadEstimateHistory } from '../monitor/estimate-history.js'
import { projectRunOf, runDeadline, runEstimateView } from '../monitor/run-estimate.js'
import { computeRunProgress } from '../monitor/run-progress.js'
import { registerBudgetCommands } from './budget-commands.js'
import { positiveCount } from './cli-arguments.js'
import { registerEventCommands } from './event-commands.js'
import { EXIT_CODES_HELP, ExitCode, exitCodeFor } from './exit-codes.js'
import { renderRunProgress, renderTable } from './format.js'
import { registerHistoryCommands } from './history-commands.js'
import { registerReportCommands } from './report-commands.js'
import { registerRunCommands } from './run-commands.js'
import { registerServeCommands } from './serve-commands.js'
import { registerSimulateCommands } from './simulate-commands.js'
import { type TextSink, terminalSafe } from './terminal-text.js'

/** `rpo status -n`: more runs than this is a report, not a listing. */
const MAX_LISTED_RUNS = 10_000

interface GlobalOptions {
  config?: string
}

export interface CliIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
}

export async function main(
  argv: readonly string[],
  terminal: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  // everything printed is cleaned of control characters (task output, params and reasons reach it);
  // only the progress reporter writes to `terminal` itself, for its status line
  const io: CliIo = { stdout: terminalSafe(terminal.stdout), stderr: terminalSafe(terminal.stderr) }
  const out = (text: string) => io.stdout.write(`${text}\n`)
  const program = new Command('rpo')
    .description('Research Pipeline Orchestrator: run ML pipelines locally or on Slurm/PBS clusters')
    .option(
      '-c, --config <file>',
      'config file (default: $RPO_CONFIG, ./rpo.config.{yaml,json}, or built-in local defaults)',
    )
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')

  let exitCode: number = ExitCode.ok
  const withApp = async <T>(fn: (app: App) => Promise<T>): Promise<T> => {
    const app = await createApp({ configPath: (program.opts() as GlobalOptions).config })
    try {
      return await fn(app)
    } finally {
      await app.close()
    }
  }

  program
    .command('validate')
    .description(
      'check a pipeline file (schema, dependencies, cycles, resources against the target) without running it',
    )
    .argument('<pipeline>', 'pipeline file (YAML or JSON)')
    .option('--cluster <name>', "check against this cluster (default: the pipeline's, then the config's)")
    .option('--json', 'print the expanded task list as JSON')
    .action(async (file: string, options: { cluster?: string; json?: boolean }) => {
      const loaded = loadPipelineFile(file)
      let warnings: readonly string[] = []
      await withApp(async (app) => {
        const engine = await app.engineFor(options.cluster ?? loaded.pipeline.cluster)
        ;({ warnings } = await engine.checkFeasible(loaded))
      })
      if (options.json) {
        out(JSON.stringify({ valid: true, pipeline: loaded.pipeline.name, warnings, tasks: loaded.instances }, null, 2))
        return
      }
      for (const warning of warnings) io.stderr.write(`! ${warning}\n`)
      // counted in one pass: filtering the instances once per step is quadratic (minutes for 50,000 steps)
      const counts = new Map<string, number>()
      for (const instance of loaded.instances) counts.set(instance.group, (counts.get(instance.group) ?? 0) + 1)
      const groups = loaded.pipeline.tasks.map((t) => {
        const count = counts.get(t.name) ?? 0
        const after = t.after
          .map((d) => (d.condition === 'succeeded' ? d.task : `${d.task} (${d.condition})`))
          .join(', ')
        return [t.name, t.foreach ? 'fan-out' : String(count), after || '-']
      })
      out(`${loaded.file}: valid — ${loaded.instances.length} task(s) in ${loaded.pipeline.tasks.length} step(s)\n`)
      out(renderTable(['STEP', 'TASKS', 'AFTER'], groups))
    })

  program
    .command('compile')
    .description('print the batch scripts a run would submit, without submitting anything (dry run)')
    .argument('<pipeline>', 'pipeline file (YAML or JSON)')
    .option('--cluster <name>', 'target cluster from the config')
    .option('--json', 'print the jobs and scripts as JSON')
    .action(async (file: string, options: { cluster?: string; json?: boolean }) => {
      const loaded = loadPipelineFile(file)
      await withApp(async (app) => {
        const engine = await app.engineFor(options.cluster ?? loaded.pipeline.cluster)
        const compiled = await engine.compile(loaded)
        if (options.json) {
          out(JSON.stringify(compiled, null, 2))
          return
        }
        for (const entry of compiled) {
          const tasks =
            entry.taskIds.length > 1
              ? `${entry.taskIds[0]} … ${entry.taskIds.at(-1)} (${entry.taskIds.length} tasks as one job array)`
              : entry.taskIds[0]
          const after =
            entry.after.length > 0
              ? ` (after ${entry.after.join(', ')}; wired as scheduler dependencies at submission)`
              : ''
          const header = `# ── ${tasks}${after}`
          if (entry.fanOut)
            out(`${header}\n# fans out at run time over the list its upstream writes; one job per element\n`)
          else if (entry.script) out(`${header}\n${entry.script}`)
          else
            out(`${header}\n# the local executor runs this command directly, with no batch script:\n${entry.command}\n`)
        }
      })
    })

  program
    .command('status')
    .description('list recent runs, or show one run task by task')
    .argument('[run]', 'run id (or a unique prefix)')
    .option('--json', 'print as JSON')
    .option('-n, --limit <count>', `runs to list (1 to ${MAX_LISTED_RUNS})`, positiveCount(MAX_LISTED_RUNS), 20)
    .action(async (runId: string | undefined, options: { json?: boolean; limit: number }) => {
      await withApp(async (app) => {
        if (runId) {
          const id = await resolveRunId(app, runId)
          const { run, snapshot } = await app.store.loadSnapshot(id)
          const now = Date.now()
          const history = await loadEstimateHistory(app.store, [run.pipelineName], now)
          const deadlines = Object.fromEntries(Object.entries(app.config.projects).map(([p, c]) => [p, c.deadline]))
          const estimate = runEstimateView(projectRunOf(run, snapshot, history, now), runDeadline(run, deadlines))
          const progress = computeRunProgress(run, snapshot, now, estimate)
          out(options.json ? JSON.stringify(progress, null, 2) : renderRunProgress(progress))
          return
        }
        const runs = await app.store.listRuns({ limit: options.limit })
        const rows = await Promise.all(
          runs.map(async (run) => {
            const { snapshot } = await app.store.loadSnapshot(run.id)
            return computeRunProgress(run, snapshot, Date.now())
          }),
        )
        if (options.json) {
          out(
            JSON.stringify(
              rows.map(({ tasks: _tasks, ...rest }) => rest),
              null,
              2,
            ),
          )
          return
        }
        if (rows.length === 0) {
          out(`no runs yet in ${app.store.description}; start one with \`rpo run <pipeline.yaml>\``)
          return
        }
        out(
          renderTable(
            ['RUN', 'PIPELINE', 'CLUSTER', 'STATE', 'DONE', 'ELAPSED', 'CREATED'],
            rows.map((p) => [
              p.runId,
              p.pipeline,
              p.cluster,
              p.state,
              `${p.done}/${p.total}`,
              formatDuration(p.elapsedSeconds),
              p.createdAt.replace('T', ' ').slice(0, 19),
            ]),
          ),
        )
      })
    })

  program
    .command('cancel')
    .description('cancel a run: stop its running tasks and record it as cancelled')
    .argument('<run>', 'run id (or a unique prefix)')
    .option('--json', 'print the result as JSON')
    .action(async (runId: string, options: { json?: boolean }) => {
      await withApp(async (app) => {
        const id = await resolveRunId(app, runId)
        const run = await app.store.getRun(id)
        const engine = await app.engineFor(run.cluster)
        const { stopped } = await engine.stopRun(id, 'cancel')
        const after = await app.store.getRun(id)
        if (options.json) out(JSON.stringify({ runId: id, state: after.state, stopped }))
        else out(`run ${id} ${after.state}${stopped > 0 ? `: ${stopped} running task(s) stopped` : ''}`)
      })
    })

  program
    .command('checkpoint')
    .description('ask a running task to save a checkpoint and exit 85; rpo then resumes it from there')
    .argument('<task>', 'task id, e.g. train or train.3')
    .option('--run <run>', 'run id (or a unique prefix); default: the unfinished run that has this task')
    .option('--json', 'print the result as JSON')
    .action(async (taskId: string, options: { run?: string; json?: boolean }) => {
      await withApp(async (app) => {
        const id = options.run ? await resolveRunId(app, options.run) : await runWithTask(app, taskId)
        const run = await app.store.getRun(id)
        const engine = await app.engineFor(run.cluster)
        const request = await requestCheckpoint(app.store, engine.adapter, id, taskId, new Date().toISOString())
        if (options.json) out(JSON.stringify(request))
        else
          out(
            `asked ${taskId} (job ${request.jobId}, attempt ${request.attempt}) to checkpoint with SIG${request.signal}; \`rpo status ${id}\` shows when it resumes`,
          )
      })
    })

  registerBudgetCommands(program, { withApp, out, runWithTask, resolveRunId })
  registerEventCommands(program, { withApp, out, runWithTask, resolveRunId })
  registerReportCommands(program, { withApp, out, runWithTask, resolveRunId })
  registerServeCommands(program, { withApp, out, runWithTask, resolveRunId })
  registerHistoryCommands(program, { withApp, out, runWithTask, resolveRunId })
  registerSimulateCommands(program, { out, stderr: io.stderr })
  registerRunCommands(program, {
    withApp,
    out,
    io,
    terminal,
    setExitCode: (code) => {
      exitCode = code
    },
  })

  program
    .command('explain')
    .description('why a task is where it is: what it waits for, its priority and its budget')
    .argument('<task>', 'task id, e.g. train or train.3')
    .option('--run <run>', 'run id (or a unique prefix); default: the unfinished run that has this task')
    .option('--json', 'print as JSON')
    .action(async (taskId: string, options: { run?: string; json?: boolean }) => {
      await withApp(async (app) => {
        const id = options.run ? await resolveRunId(app, options.run) : await runWithTask(app, taskId)
        const explanation = await explainTask(app.store, app.budgets, id, taskId, Date.now())
        out(options.json ? JSON.stringify(explanation, null, 2) : renderExplanation(explanation))
      })
    })

  program
    .command('schema')
    .description('print the JSON Schema of pipeline files (or of the config file) for editors')
    .addOption(new Option('--config-file', 'the config file schema instead of the pipeline schema'))
    .action((options: { configFile?: boolean }) => {
      const schema = z.toJSONSchema(options.configFile ? ConfigSchema : PipelineSchema, {
        io: 'input',
        unrepresentable: 'any',
      })
      out(JSON.stringify(schema, null, 2))
    })

  try {
    await program.parseAsync(argv as string[], { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput
    io.stderr.write(`${formatError(error)}\n`)
    return exitCodeFor(error)
  }
}

/** The one unfinished run that has task `taskId`. */
async function runWithTask(app: App, taskId: string): Promise<string> {
  const runs = await app.store.listRuns({ limit: 1000, states: ['running'] })
  const holders: string[] = []
  for (const run of runs) {
    const { snapshot } = await app.store.loadSnapshot(run.id)
    if (snapshot.tasks.some((t) => t.id === taskId)) holders.push(run.id)
  }
  if (holders.length === 1) return holders[0] as string
  if (holders.length === 0)
    throw new RpoError('task-not-found', `no unfinished run has a task "${taskId}"; \`rpo status\` lists the runs`)
  throw new RpoError(
    'usage',
    `${holders.length} unfinished runs have a task "${taskId}" (${holders.join(', ')}); pick one with --run`,
  )
}

async function resolveRunId(app: App, prefix: string): Promise<string> {
  const runs = await app.store.listRuns({ limit: 1000 })
  const exact = runs.find((r) => r.id === prefix)
  if (exact) return exact.id
  const matches = runs.filter((r) => r.id.startsWith(prefix))
  if (matches.length === 1 && matches[0]) return matches[0].id
  if (matches.length > 1)
    throw new RpoError(
      'usage',
      `"${prefix}" matches ${matches.length} runs (${matches
        .slice(0, 3)
        .map((r) => r.id)
        .join(', ')}, ...); give more of the id`,
    )
  throw new RpoError('run-not-found', `no run "${prefix}" in ${app.store.description}; \`rpo status\` lists the runs`)
}

export function formatError(error: unknown): string {
  if (error instanceof SpecError)
    return `error: ${error.issues.length === 1 ? 'invalid file' : `${error.issues.length} problems`}:\n${error.message
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')}`
  if (isRpoError(error)) return `error (${error.code}): ${error.message}`
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
  return `internal error: ${text}\nThis is a bug in rpo; please report it with the command you ran.`
}
