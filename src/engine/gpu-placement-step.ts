/**
 * Placement of a round's GPU jobs, just before they are sent: the pure choice (src/core/gpu/
 * gpu-placement.ts) against the cluster's inventory with the GPUs free now — read once per round,
 * and only when a job has something to choose — applied to each job's GPU request, and each
 * decision written to the run's journal (`task:placed`), where `rpo explain` reads it back.
 */
import type { GpuCatalog } from '../core/gpu/gpu-catalog.js'
import { deadlineUrgency, type GpuPlacement, placeGpus, withGpusTaken } from '../core/gpu/gpu-placement.js'
import { usesGpus } from '../core/gpu/model-memory.js'
import type { ResolvedTask } from '../core/pipeline/resolved-pipeline.js'
import type { Inventory } from '../core/resources/inventory.js'
import type { GpuRequest } from '../core/resources/resource-request.js'
import type { PlannedEvent } from '../core/scheduling/plan-tick.js'
import type { JobSubmission } from '../scheduler/scheduler-adapter.js'
import type { RunRecord, RunStore } from '../store/run-store.js'

export interface GpuPlacementDeps {
  readonly catalog: GpuCatalog
  /** The target can be asked for one of several GPU types (Slurm); PBS cannot. */
  readonly alternatives: boolean
  /**
   * The target can be asked for a GPU type at all. PBS has no built-in one (a site resource such as
   * `gputype` must be configured in the adapter): there the choice is journaled, not applied.
   */
  readonly typed: boolean
  /** The inventory with the GPUs free now (falls back to the static inventory when usage cannot be read). */
  readonly inventory: () => Promise<Inventory>
  /** The project's billing weight per GPU type (config `gpuWeights`). */
  readonly costWeights: (project: string | null) => Readonly<Record<string, number>> | undefined
  /** The run's deadline: the pipeline's, else its project's; null for none. */
  readonly deadline: (run: RunRecord) => string | null
}

export interface JobToPlace {
  readonly run: RunRecord
  readonly definition: ResolvedTask
  readonly job: JobSubmission
}

/** The journal entry type of a placement decision. */
export const PLACED_EVENT = 'task:placed'

/** Whether placing this job can change anything: it asks for GPUs and has a need or a choice. */
function hasChoice({ definition, job }: JobToPlace): boolean {
  const gpus = job.resources.gpus
  if (gpus === null || gpus.count === 0) return false
  return !usesGpus(definition.framework) || choosesAmongGpus(definition, gpus)
}

/**
 * Whether a GPU task's type is placement's to choose, which needs the GPUs free now: it has a memory
 * need (a model, `minMemory`) or several acceptable types. A CPU framework's GPUs are dropped without.
 */
export function choosesAmongGpus(definition: ResolvedTask, gpus: GpuRequest | null): boolean {
  if (gpus === null || gpus.count === 0 || !usesGpus(definition.framework)) return false
  return definition.model !== null || gpus.minMemoryGb !== undefined || gpus.types.length > 1
}

/** The round's jobs with their GPU requests placed; jobs with nothing to decide are returned as they are. */
export async function placeRoundGpus(
  deps: GpuPlacementDeps,
  store: RunStore,
  jobs: readonly JobToPlace[],
  now: number,
): Promise<JobSubmission[]> {
  if (!jobs.some(hasChoice)) return jobs.map((j) => j.job)
  let inventory = await inventoryFor(deps, jobs)
  const placed: JobSubmission[] = []
  // each run's decisions, journaled in one write: a sweep of a thousand instances is one transaction
  const journal = new Map<string, PlannedEvent[]>()
  for (const entry of jobs) {
    const { job, message, placement } = placeJob(deps, inventory, entry, now)
    placed.push(job)
    // the next job of the round sees these GPUs taken, as the scheduler will
    if (placement?.kind === 'placed' && deps.typed) inventory = withGpusTaken(inventory, job.resources)
    if (message === null || placement === null) continue
    const events = journal.get(entry.run.id) ?? []
    if (events.length === 0) journal.set(entry.run.id, events)
    events.push({
      type: PLACED_EVENT,
      taskId: job.taskId,
      message,
      data: {
        attempt: job.attempt,
        kind: placement.kind,
        types: placement.kind === 'placed' ? [...placement.types] : [],
      },
    })
  }
  const at = new Date(now).toISOString()
  for (const [runId, events] of journal) await store.appendEvents(runId, events, at)
  return placed
}

/** The inventory the jobs are placed on: read (once) only when one of them has a GPU choice to make. */
async function inventoryFor(deps: GpuPlacementDeps, jobs: readonly JobToPlace[]): Promise<Inventory> {
  const needsInventory = jobs.some((j) => choosesAmongGpus(j.definition, j.job.resources.gpus))
  return needsInventory ? deps.inventory() : { nodes: [] }
}

/** One job placed on `inventory` (pure): the job as it will be sent, and the decision in words (null: none). */
export function placeJob(
  deps: Omit<GpuPlacementDeps, 'inventory'>,
  inventory: Inventory,
  entry: JobToPlace,
  now: number,
): { readonly job: JobSubmission; readonly message: string | null; readonly placement: GpuPlacement | null } {
  if (!hasChoice(entry)) return { job: entry.job, message: null, placement: null }
  const { run, definition, job } = entry
  const placement = placeGpus({
    request: job.resources,
    framework: definition.framework,
    model: definition.model,
    inventory,
    catalog: deps.catalog,
    alternatives: deps.alternatives,
    urgency: deadlineUrgency(deps.deadline(run), now, job.resources.timeLimitSeconds),
    ...optional('costWeights', deps.costWeights(run.project)),
  })
  const sent = deps.typed || placement.kind === 'dropped' ? applyPlacement(job, placement) : job
  const message =
    !deps.typed && placement.kind === 'placed'
      ? `GPUs as asked (this cluster cannot be asked for a GPU type; ${placement.types.join('|')} would fit best): ${placement.reason}`
      : messageOf(placement)
  return { job: sent, message, placement }
}

function applyPlacement(job: JobSubmission, placement: GpuPlacement): JobSubmission {
  const gpus = job.resources.gpus
  if (gpus === null) return job
  if (placement.kind === 'dropped') return { ...job, resources: { ...job.resources, gpus: null } }
  if (placement.kind === 'placed')
    return { ...job, resources: { ...job.resources, gpus: { ...gpus, types: placement.types } } }
  // as asked, or infeasible now (validation let it through against an older inventory): the scheduler decides
  return job
}

function messageOf(placement: GpuPlacement): string | null {
  switch (placement.kind) {
    case 'placed':
      return `GPUs: ${placement.types.join('|')} — ${placement.reason}`
    case 'dropped':
      return `no GPUs: ${placement.reason}`
    case 'infeasible':
      return `GPUs as asked (no type of the cluster fits now): ${placement.reason}`
    case 'as-asked':
      return placement.reason === null ? null : `GPUs as asked: ${placement.reason}`
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V })
}
