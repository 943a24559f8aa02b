/**
 * Submitting to PBS: job scripts rendered for the server's flavor (a sweep as one job array where
 * the server has them, pbs-array.ts), and a batch sent as one remote script (qsub-batch.ts), so a
 * thousand jobs cost one SSH round trip. A job whose script cannot be rendered (bad spec) is refused
 * alone, with its in-batch dependents; a server that does not answer is a retryable error, and the
 * engine then finds what got through by submission key (pbs-submission-lookup.ts).
 */
import { readFileSync } from 'node:fs'
import { RpoError, SchedulerCommandError } from '../../src/core/errors.js'
import { packageRoot } from '../../src/package-root.js'
import { stageCheckpointHelper } from '../../src/scheduler/checkpoint-helper.js'
import { runBatchScript } from '../../src/scheduler/run-batch-script.js'
import type { JobSubmission, SubmitResult } from '../../src/scheduler/scheduler-adapter.js'
import { groupPbsSweeps, type PbsBatchUnit, renderPbsArrayScript } from './pbs-array.js'
import { isPbsServerUnavailable } from './pbs-command-errors.js'
import { pbsJobCommand } from './pbs-exit-status-files.js'
import type { PbsDialect } from './pbs-flavors.js'
import { pbsJobDir } from './pbs-job-files.js'
import { PBS_JOB_TEMPLATE_FILE, type PbsScriptOptions, renderPbsScript } from './pbs-script.js'
import type { PbsServer } from './pbs-server.js'
import { buildQsubBatchScript, parseQsubBatchOutput, type QsubBatchJob } from './qsub-batch.js'

export class PbsSubmission {
  readonly #server: PbsServer
  readonly #template: string
  /** Checkpoint helper folders already copied to the cluster by this adapter. */
  readonly #stagedHelpers = new Set<string>()

  constructor(server: PbsServer) {
    this.#server = server
    this.#template = readFileSync(`${packageRoot()}/${PBS_JOB_TEMPLATE_FILE}`, 'utf8')
  }

  /** The batch script for one job; needs the flavor (configured or detected). */
  renderScript(job: JobSubmission): string {
    const dialect = this.#server.dialect
    if (dialect === null) {
      throw new RpoError(
        'internal',
        'the PBS flavor is not known yet: configure `flavor`, or detect it (adapter.detect()) before rendering',
      )
    }
    return this.#render(job, dialect)
  }

  /** The scripts of a batch: one per scheduler job, a sweep's array carrying all its instances. */
  renderScripts(jobs: readonly JobSubmission[]): { keys: string[]; script: string }[] {
    const dialect = this.#server.dialect
    if (dialect === null) return jobs.map((job) => ({ keys: [job.submissionKey], script: this.renderScript(job) }))
    return this.#units(jobs, dialect).map((unit) => ({
      keys: (unit.array?.members ?? [unit.job]).map((m) => m.submissionKey),
      script: this.#renderUnit(unit, dialect),
    }))
  }

  async submit(jobs: readonly JobSubmission[]): Promise<readonly SubmitResult[]> {
    if (jobs.length === 0) return []
    const server = this.#server
    const dialect = await server.detect()
    await stageCheckpointHelper(server.transport, jobs, this.#stagedHelpers)
    const early = new Map<string, SubmitResult>()
    const batch: QsubBatchJob[] = []
    for (const unit of this.#units(jobs, dialect)) {
      const refuse = (message: string) => {
        for (const { submissionKey } of unit.array?.members ?? [unit.job]) {
          early.set(submissionKey, { kind: 'rejected', submissionKey, message })
        }
      }
      // an in-batch upstream this adapter refused: the dependent cannot be wired, refuse it too
      if (unit.job.dependsOn.some((d) => d.jobId === null && early.has(d.submissionKey))) {
        refuse('an upstream job of this batch was refused')
        continue
      }
      try {
        batch.push({ ...unit, script: this.#renderUnit(unit, dialect) })
      } catch (error) {
        if (!(error instanceof RpoError) || error.code !== 'spec-invalid') throw error
        refuse(error.message)
      }
    }
    const submitted = new Map<string, SubmitResult>()
    if (batch.length > 0) {
      const script = buildQsubBatchScript(batch, { flavor: dialect.flavor })
      const result = await runBatchScript(server.transport, script, server.timeout(jobs.length))
      const results = parseQsubBatchOutput(result.stdout, batch)
      const folders = new Map(
        batch.flatMap((b) => (b.array?.members ?? [b.job]).map((m) => [m.submissionKey as string, pbsJobDir(m)])),
      )
      for (const r of results) {
        if (r.kind === 'submitted') server.jobFolders.remember(r.jobId, folders.get(r.submissionKey))
        submitted.set(r.submissionKey, r)
      }
      const unavailable = results.find((r) => r.kind === 'rejected' && isPbsServerUnavailable(r.message))
      if (unavailable?.kind === 'rejected') {
        // the server did not refuse the jobs, it did not answer: the engine finds what got through by key
        throw new SchedulerCommandError('scheduler-unavailable', ['qsub'], result.exitCode, unavailable.message)
      }
      const expected = batch.reduce((n, b) => n + (b.array?.members.length ?? 1), 0)
      if (results.length < expected && result.exitCode !== 0) {
        // the script died part way: the engine finds what did get submitted by submission key
        throw new SchedulerCommandError(
          'command-failed',
          ['qsub'],
          result.exitCode,
          result.stderr,
          `batch submission stopped after ${results.length} of ${expected} job(s): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        )
      }
    }
    return jobs.flatMap((job) => {
      const r = early.get(job.submissionKey) ?? submitted.get(job.submissionKey)
      return r ? [r] : []
    })
  }

  #units(jobs: readonly JobSubmission[], dialect: PbsDialect): PbsBatchUnit[] {
    return this.#server.arraysOn(dialect) ? groupPbsSweeps(jobs, dialect.flavor) : jobs.map((job) => ({ job }))
  }

  #renderUnit(unit: PbsBatchUnit, dialect: PbsDialect): string {
    if (unit.array === undefined) return this.#render(unit.job, dialect)
    const members = unit.array.members.map((m) => ({ ...m, command: pbsJobCommand(this.#server, m, dialect) }))
    return renderPbsArrayScript(unit.array, members, this.#scriptOptions(dialect))
  }

  #render(job: JobSubmission, dialect: PbsDialect): string {
    return renderPbsScript(
      this.#template,
      { ...job, command: pbsJobCommand(this.#server, job, dialect) },
      this.#scriptOptions(dialect),
    )
  }

  #scriptOptions(dialect: PbsDialect): PbsScriptOptions {
    const script = this.#server.options.script ?? {}
    return { ...script, flavor: dialect.flavor }
  }
}
