/**
 * The pipeline the kill/interrupt fault tests run: every shape rpo submits — stages, two sweeps
 * that go out as job arrays, a foreach fan-out, a checkpointing task that exits 85 once and
 * resumes, and a task designed to fail with a dependent — each task a short `sleep`, so a run of
 * hundreds of tasks stays within the testbed's minutes. Also what "right" means for each task.
 */

export interface KillPipelineShape {
  /** train is a trainA × trainB sweep; evaluate a sweep of `evaluate` instances after it. */
  readonly trainA: number
  readonly trainB: number
  readonly evaluate: number
  readonly shards: number
  /** `resources:` line for every task (partition, memory, time). */
  readonly resources: string
  /** Include `doomed` (exits 3) and its dependent, so the run ends `failed` by design. */
  readonly doomed: boolean
  /**
   * The train sweep's throttle (enforced by Slurm itself, rpo alive or not): it sets a floor under
   * the run's length, so the kills keep landing while there is work in flight.
   */
  readonly trainMaxParallel: number
}

export const CLUSTER_SHAPE: KillPipelineShape = {
  trainA: 16,
  trainB: 16,
  evaluate: 24,
  shards: 20,
  resources: '{ partition: all, cpus: 1, memory: 50M, time: 2m }',
  doomed: true,
  // 256 tasks of 2-3 s (measured on the testbed: 2.8 s each from start to end, 107 s for the sweep
  // at 8 at a time, while the 50 kills were over about 60 s into the test): at 12 at a time about
  // 70 s of Slurm time, still longer than the kills, so they keep landing while work is in flight
  trainMaxParallel: 12,
}

/** A few dozen tasks, for the interrupt tests (which need every task to succeed). */
export const SMALL_SHAPE: KillPipelineShape = {
  ...CLUSTER_SHAPE,
  trainMaxParallel: 8,
  trainA: 4,
  trainB: 4,
  evaluate: 4,
  shards: 4,
  doomed: false,
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

export function killPipeline(name: string, shape: KillPipelineShape): string {
  return `
name: ${name}
defaults:
  resources: ${shape.resources}
  retries: { max: 0 }
tasks:
  prep:
    command: sleep 1
  train:
    after: [prep]
    matrix: { a: [${range(shape.trainA).join(', ')}], b: [${range(shape.trainB).join(', ')}] }
    maxParallel: ${shape.trainMaxParallel}
    command: "sleep $(( ({{params.a}} + {{params.b}}) % 3 == 0 ? 3 : 2 ))"
  evaluate:
    after: [train]
    matrix: { i: [${range(shape.evaluate).join(', ')}] }
    command: sleep 1
  split:
    after: [prep]
    command: |
      echo '{"shards": [${range(shape.shards).join(', ')}]}' > "$RPO_OUTPUTS"
  shard:
    foreach: { task: split, output: shards }
    command: sleep 1
  ckpt:
    after: [prep]
    checkpoint: { every: never, leadTime: 30s, maxResumes: 3 }
    command: |
      if [ ! -f "$RPO_CHECKPOINT_DIR/saved" ]; then mkdir -p "$RPO_CHECKPOINT_DIR"; touch "$RPO_CHECKPOINT_DIR/saved"; sleep 1; exit 85; fi
      sleep 1
${
  shape.doomed
    ? `  doomed:
    after: [prep]
    command: "sleep 1; exit 3"
  doomed-child:
    after: [doomed]
    command: echo never
`
    : ''
}  report:
    after: [evaluate, shard, ckpt]
    command: sleep 1
`
}

/** How many task instances the pipeline has once the foreach expanded. */
export function killPipelineTasks(shape: KillPipelineShape): number {
  return 1 + shape.trainA * shape.trainB + shape.evaluate + 1 + shape.shards + 1 + (shape.doomed ? 2 : 0) + 1
}

/** The state each task must end in: everything succeeds but the task designed to fail and its dependent. */
export function expectedState(taskId: string): string {
  if (taskId === 'doomed') return 'failed'
  if (taskId === 'doomed-child') return 'upstream_failed'
  if (taskId === 'shard') return 'expanded'
  return 'succeeded'
}
