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

export { type BudgetReportLine, budgetReportLines, usageBreakdown } from './budget/budget-report.js'
export { type BudgetGate, BudgetService, type EnforcementOutcome } from './budget/budget-service.js'
export { explainTask, renderExplanation, type TaskExplanation } from './budget/explain-task.js'
export {
  type ClusterConfig,
  type ConfigFile,
  ConfigSchema,
  DEFAULT_WEBHOOK_TYPES,
  type WebhookConfig,
  WebhookSchema,
} from './config/config-schema.js'
export {
  findConfigFile,
  type LoadConfigOptions,
  loadConfig,
  type ResolvedCluster,
  type ResolvedConfig,
  type StoreTarget,
} from './config/load-config.js'
export { type LoadedPipeline, loadPipelineFile, loadPipelineText } from './config/load-pipeline.js'
export { type AdmissionDecision, admit, BudgetBook } from './core/budget/budget-admission.js'
export { type BudgetLedger, type LedgerEntry, planCharges } from './core/budget/budget-ledger.js'
export { type BudgetPeriod, periodWindow } from './core/budget/budget-period.js'
export { type BudgetRule, budgetRulesOf } from './core/budget/budget-rules.js'
export { type BudgetStatus, computeBudgetStatus } from './core/budget/budget-status.js'
export { type TresHours, tresHoursOf } from './core/budget/tres-hours.js'
export {
  DagError,
  isRpoError,
  ParseError,
  RpoError,
  type RpoErrorCode,
  SchedulerCommandError,
  SpecError,
  type SpecIssue,
  StoreError,
  TransportError,
} from './core/errors.js'
export {
  type AttemptEfficiency,
  attemptEfficiency,
  type EfficiencySummary,
  type WasteNote,
} from './core/estimate/efficiency.js'
export { type EfficiencyReport, efficiencyReport, type StageEfficiency } from './core/estimate/efficiency-report.js'
export { type RightSizing, suggestRightSizing } from './core/estimate/right-sizing.js'
export { type StageHistoryRow, summarizeStageHistory } from './core/estimate/stage-history.js'
export { canTransition, isTerminalJobState, JobState } from './core/job/job-state.js'
export {
  decideNotifications,
  type Notice,
  type NotificationInputs,
  type SubjectChange,
} from './core/notify/decide-notifications.js'
export { expandPipeline, type TaskInstance } from './core/pipeline/expand-pipeline.js'
export { PipelineSchema, type PipelineSpec, type TaskSpec } from './core/pipeline/pipeline-schema.js'
export {
  type ResolvedPipeline,
  type ResolvedTask,
  type RetryPolicy,
  resolvePipeline,
} from './core/pipeline/resolved-pipeline.js'
export { formatDuration, parseDurationSeconds, parseMemoryMb } from './core/pipeline/units.js'
export {
  decideEnforcement,
  type EnforcementPlan,
  type EnforcementSnapshot,
} from './core/policy/enforcement-plan.js'
export { type ProjectScore, scoreProjects, scoreTasks } from './core/policy/priority-score.js'
export { decideAfterEnding, type EndingDecision } from './core/retry/decide-after-ending.js'
export { type PlanOptions, planTick, type TickPlan } from './core/scheduling/plan-tick.js'
export type {
  AttemptSnapshot,
  Capacity,
  RunSnapshot,
  RunState,
  TaskSnapshot,
  TaskState,
} from './core/scheduling/run-snapshot.js'
export { type App, type CreateAppOptions, createApp } from './create-app.js'
export { type CheckpointRequest, requestCheckpoint } from './engine/checkpoint-task.js'
export { Engine, type EngineOptions, type TickResult } from './engine/engine.js'
export { type EngineEventMap, type EngineEventName, EngineEvents } from './engine/engine-events.js'
export { type FollowOptions, followRun } from './engine/follow-run.js'
export { type NotificationCheck, type NotificationCheckOptions, notificationChecker } from './engine/notify-step.js'
export {
  type EventFilter,
  type EventListOptions,
  EventLog,
  type FollowEventsOptions,
} from './events/event-log.js'
export {
  EVENT_TYPES,
  type EventPayload,
  EventPayloadSchemas,
  type EventType,
  isEventType,
  type NewRpoEvent,
  type RpoEvent,
  RpoEventSchema,
} from './events/event-schemas.js'
export {
  API_VERSION,
  apiDocument,
  buildHttpServer,
  type HttpServerOptions,
  type MetricsProvider,
} from './http/build-server.js'
export { createMetrics, type MetricsOptions, type RpoMetrics } from './metrics/create-metrics.js'
export { type EndedUsageResult, fillEndedUsage } from './monitor/ended-usage.js'
export {
  type EstimateHistory,
  EstimateHistoryCache,
  loadEstimateHistory,
} from './monitor/estimate-history.js'
export { loadTimingReport, type TimingReportTarget } from './monitor/load-timing-report.js'
export {
  projectRunOf,
  type RunEstimateView,
  runDeadline,
  runEstimateView,
  type TaskEstimateView,
} from './monitor/run-estimate.js'
export { computeRunProgress, type RunProgress, type TaskProgress } from './monitor/run-progress.js'
export {
  type RunTiming,
  RunTimingSchema,
  type StageTiming,
  type TaskTiming,
  type TimingReport,
  TimingReportSchema,
} from './monitor/timing-report.js'
export { type DeliveryOutcome, signBody } from './notify/webhook-delivery.js'
export {
  createWebhookDispatcher,
  WebhookDispatcher,
  type WebhookDispatcherOptions,
} from './notify/webhook-dispatcher.js'
export { takesEvent, type WebhookTarget, webhookTargetsOf } from './notify/webhook-target.js'
export { renderReportHtml } from './report/report-html.js'
export { timelineOf } from './report/report-timeline.js'
export { renderTimelineSvg, type Timeline } from './report/timeline-svg.js'
export type {
  Inventory,
  JobObservation,
  JobSubmission,
  NativeJobId,
  SchedulerAdapter,
  SchedulerCapabilities,
  SubmissionKey,
} from './scheduler/scheduler-adapter.js'
export { quoteShellCommand, quoteShellWord } from './script/shell-quote.js'
export type { AttemptHistory, HistoryFilter, HistoryQueries } from './store/history-queries.js'
export { openDatabase } from './store/open-store.js'
export { type AttemptRecord, type EventRecord, type RunRecord, RunStore } from './store/run-store.js'
export { type ApiToken, TOKEN_SCOPES, type TokenScope, TokenStore } from './store/token-store.js'
export { type SyncResult, startDaemon, syncOnce } from './sync/sync-runs.js'
export type { ExecOptions, ExecResult, Transport } from './transport/transport.js'
