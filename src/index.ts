/**
 * The rpo library: everything the CLI does, callable from TypeScript. Explicit named re-exports only.
 *
 * ```ts
 * import { createApp, loadPipelineFile, followRun } from 'rpo'
 * const app = await createApp()
 * const pipeline = loadPipelineFile('pipeline.yaml')
 * const engine = await app.engineFor(pipeline.pipeline.cluster)
 * const { run } = await engine.startRun(pipeline)
 * const state = await followRun(engine, run.id, { pollIntervalMs: 500 })
 * await app.close()
 * ```
 */
export { type App, type CreateAppOptions, createApp } from './create-app.js'
export {
  loadConfig,
  findConfigFile,
  type LoadConfigOptions,
  type ResolvedConfig,
  type ResolvedCluster,
  type StoreTarget,
} from './config/load-config.js'
export { ConfigSchema, type ConfigFile, type ClusterConfig } from './config/config-schema.js'
export { loadPipelineFile, loadPipelineText, type LoadedPipeline } from './config/load-pipeline.js'
export { PipelineSchema, type PipelineSpec, type TaskSpec } from './core/pipeline/pipeline-schema.js'
export { resolvePipeline, type ResolvedPipeline, type ResolvedTask, type RetryPolicy } from './core/pipeline/resolved-pipeline.js'
export { expandPipeline, type TaskInstance } from './core/pipeline/expand-pipeline.js'
export { parseDurationSeconds, parseMemoryMb, formatDuration } from './core/pipeline/units.js'
export { planTick, type TickPlan, type PlanOptions } from './core/scheduling/plan-tick.js'
export type { RunSnapshot, TaskSnapshot, AttemptSnapshot, RunState, TaskState, Capacity } from './core/scheduling/run-snapshot.js'
export { JobState, isTerminalJobState, canTransition } from './core/job/job-state.js'
export {
  RpoError,
  SpecError,
  DagError,
  ParseError,
  TransportError,
  SchedulerCommandError,
  StoreError,
  isRpoError,
  type RpoErrorCode,
  type SpecIssue,
} from './core/errors.js'
export { Engine, type EngineOptions, type TickResult } from './engine/engine.js'
export { EngineEvents, type EngineEventMap, type EngineEventName } from './engine/engine-events.js'
export { followRun, type FollowOptions } from './engine/follow-run.js'
export { RunStore, type RunRecord, type AttemptRecord, type EventRecord } from './store/run-store.js'
export { openDatabase } from './store/open-store.js'
export { computeRunProgress, type RunProgress, type TaskProgress } from './monitor/run-progress.js'
export { syncOnce, startDaemon, type SyncResult } from './sync/sync-runs.js'
export type {
  SchedulerAdapter,
  SchedulerCapabilities,
  JobSubmission,
  JobObservation,
  Inventory,
  NativeJobId,
  SubmissionKey,
} from './scheduler/scheduler-adapter.js'
export type { Transport, ExecOptions, ExecResult } from './transport/transport.js'
export { quoteShellWord, quoteShellCommand } from './script/shell-quote.js'
