/**
 * One launch template per distributed framework: what the batch shell sets up and the step that
 * starts the framework's processes across the allocation (docs/launching.md has the rendered lines).
 * Per node: torchrun (pytorch-ddp, deepspeed), a TensorFlow worker with its TF_CONFIG, a JAX
 * process with its coordinator; per rank: MPI and Horovod; Ray: a head, workers and the driver.
 * Pure: shell text out, every value quoted.
 */
import { CHECKPOINT_EXIT_CODE } from '../../core/pipeline/resolved-pipeline.js'
import type { Framework } from '../../core/pipeline/workload-fields.js'
import type { ScriptValueChecks } from '../script-values.js'
import { quoteShellWord } from '../shell-quote.js'
import {
  allocationLines,
  type BatchScheduler,
  mpirunEnv,
  nodeRankExport,
  perNodeStep,
  perRankStep,
  type StepOptions,
} from './allocation-steps.js'

/** Variables the launch templates set for the task, which a container must see too. */
export const FRAMEWORK_VARIABLES = [
  'RPO_CHECKPOINT_MARK',
  'TF_CONFIG',
  'RPO_TF_WORKERS',
  'JAX_COORDINATOR_ADDRESS',
  'JAX_NUM_PROCESSES',
  'JAX_PROCESS_ID',
  'RAY_ADDRESS',
] as const

export interface LaunchShape {
  readonly scheduler: BatchScheduler
  readonly nodes: number
  readonly cpusPerNode: number
  readonly gpusPerNode: number
  /** Words (quoted) that run a program inside the task's container; empty for none. */
  readonly container: readonly string[]
  readonly signal: string | null
  readonly passEnv: readonly string[]
  readonly slurmMpi: string
  /** Where a torchrun worker that exits with the checkpoint status (85) leaves its mark; null for none. */
  readonly checkpointMark: string | null
}

export interface FrameworkLaunch {
  readonly tasksPerNode: number
  readonly cpusPerTask: number
  /** Lines before the step: the allocation, framework variables. */
  readonly setup: readonly string[]
  /** The step; its last line is the command the batch shell waits for. */
  readonly step: readonly string[]
  /** Lines after the step ended, with its status in `rpo_status`, before the script exits with it. */
  readonly after?: readonly string[]
}

/** `[container…] /bin/bash -c SCRIPT rpo-node COMMAND`: SCRIPT runs on the node with the command as "$1". */
function nodeProgram(shape: LaunchShape, script: readonly string[], command: string): string {
  return [
    ...shape.container,
    '/bin/bash',
    '-c',
    quoteShellWord(script.join('\n')),
    'rpo-node',
    quoteShellWord(command),
  ].join(' ')
}

/**
 * A node script that starts a per-node launcher (torchrun) whose children are the trainers. The
 * launcher must outlive the checkpoint signal (torchrun dies of SIGUSR1/2, and with it the ranks'
 * exit status), so it starts with the signal ignored — an ignored signal stays ignored across exec,
 * and a trainer that installs its handler (rpo_checkpoint.Checkpointer) still gets it. On Slurm the
 * signal reaches the trainers from slurmstepd, which signals every process of the step; mpirun (PBS)
 * signals only its ranks, so there the node script starts the launcher in its own process group and
 * passes the signal on to that group.
 */
function launcherNodeScript(shape: LaunchShape, launcher: string): string[] {
  const rank = nodeRankExport(shape.scheduler)
  const { signal } = shape
  if (signal === null) return [rank, `exec ${launcher}`]
  if (shape.scheduler === 'slurm') return [rank, `trap '' ${signal}`, `exec ${launcher}`]
  return [
    rank,
    `(trap '' ${signal}; exec setsid ${launcher}) &`,
    'rpo_group=$!',
    `trap 'kill -s ${signal} -- "-$rpo_group" 2>/dev/null' ${signal}`,
    'while kill -0 "$rpo_group" 2>/dev/null; do wait "$rpo_group"; done',
    'wait "$rpo_group"',
  ]
}

function stepOptions(shape: LaunchShape, cpusPerTask: number): StepOptions {
  return { cpusPerTask, passEnv: shape.passEnv, slurmMpi: shape.slurmMpi }
}

/** torchrun on every node; deepspeed runs the same way (deepspeed.init_distributed reads torchrun's variables). */
function torchrunLaunch(shape: LaunchShape, command: string): FrameworkLaunch {
  // one process per GPU; without GPUs one process per node (gloo on the CPUs)
  const processes = Math.max(1, shape.gpusPerNode)
  // underscore spellings: torch 1.x knows only these, 2.x takes both
  const torchrun = [
    'torchrun',
    // the task's extra torchrun options (its env: RPO_TORCHRUN_ARGS), split into words on purpose
    '${RPO_TORCHRUN_ARGS:-}',
    '--nnodes="$RPO_NNODES"',
    `--nproc_per_node=${processes}`,
    '--node_rank="$RPO_NODE_RANK"',
    '--master_addr="$RPO_MASTER_ADDR"',
    '--master_port="$RPO_MASTER_PORT"',
    '--max_restarts=0',
    '--no_python',
    '/bin/bash',
    '-c',
    // torchrun reports a worker's checkpoint exit as a failure (1): the worker marks it instead
    ...(shape.checkpointMark === null
      ? ['"$1"']
      : [
          quoteShellWord(
            `/bin/bash -c "$1"; rpo_s=$?; [ "$rpo_s" -ne ${CHECKPOINT_EXIT_CODE} ] || : >"$RPO_CHECKPOINT_MARK"; exit "$rpo_s"`,
          ),
          'rpo-rank',
          '"$1"',
        ]),
  ].join(' ')
  const mark = shape.checkpointMark
  return {
    ...perNodeLaunch(
      shape,
      launcherNodeScript(shape, torchrun),
      command,
      mark === null ? [] : [`export RPO_CHECKPOINT_MARK=${quoteShellWord(mark)}`, 'rm -f -- "$RPO_CHECKPOINT_MARK"'],
    ),
    ...(mark === null
      ? {}
      : {
          after: [
            `if [ "$rpo_status" -ne 0 ] && [ -e "$RPO_CHECKPOINT_MARK" ]; then rpo_status=${CHECKPOINT_EXIT_CODE}; fi`,
            'rm -f -- "$RPO_CHECKPOINT_MARK"',
          ],
        }),
  }
}

/** MPI ranks: one per GPU, or one per CPU without GPUs; Horovod: one per GPU, or one per node. */
function rankLaunch(
  shape: LaunchShape,
  command: string,
  ranksPerNode: number,
  checks: ScriptValueChecks,
): FrameworkLaunch {
  if (ranksPerNode > shape.cpusPerNode) {
    throw checks.invalid(
      `${ranksPerNode} ranks per node need at least ${ranksPerNode} cpus per node, the task asks for ${shape.cpusPerNode}`,
    )
  }
  const cpusPerTask = Math.floor(shape.cpusPerNode / ranksPerNode)
  const program = [...shape.container, '/bin/bash', '-c', quoteShellWord(command)].join(' ')
  return {
    tasksPerNode: ranksPerNode,
    cpusPerTask,
    setup: allocationLines(shape.scheduler),
    step: [perRankStep(shape.scheduler, ranksPerNode, stepOptions(shape, cpusPerTask), program)],
  }
}

/** One process per node, running `script` on it with the task's command as "$1". */
function perNodeLaunch(shape: LaunchShape, script: readonly string[], command: string, setup: readonly string[]) {
  return {
    tasksPerNode: 1,
    cpusPerTask: shape.cpusPerNode,
    setup: [...allocationLines(shape.scheduler), ...setup],
    step: [
      perNodeStep(
        shape.scheduler,
        shape.nodes,
        stepOptions(shape, shape.cpusPerNode),
        nodeProgram(shape, script, command),
      ),
    ],
  } satisfies FrameworkLaunch
}

/** One TensorFlow worker per node, each with its TF_CONFIG: every host:port, and its own index. */
function tensorflowLaunch(shape: LaunchShape, command: string): FrameworkLaunch {
  const script = [
    nodeRankExport(shape.scheduler),
    'export TF_CONFIG="{\\"cluster\\":{\\"worker\\":[$RPO_TF_WORKERS]},\\"task\\":{\\"type\\":\\"worker\\",\\"index\\":$RPO_NODE_RANK}}"',
    'exec /bin/bash -c "$1"',
  ]
  return perNodeLaunch(shape, script, command, [
    'export RPO_TF_WORKERS; RPO_TF_WORKERS=$(printf \'"%s:\'"$RPO_MASTER_PORT"\'",\' "${rpo_hosts[@]}"); RPO_TF_WORKERS=${RPO_TF_WORKERS%,}',
  ])
}

/** One JAX process per node; `jax.distributed.initialize` reads its coordinator from JAX_* (docs/launching.md). */
function jaxLaunch(shape: LaunchShape, command: string): FrameworkLaunch {
  const script = [
    nodeRankExport(shape.scheduler),
    'export JAX_COORDINATOR_ADDRESS="$RPO_MASTER_ADDR:$RPO_MASTER_PORT" JAX_NUM_PROCESSES="$RPO_NNODES" JAX_PROCESS_ID="$RPO_NODE_RANK"',
    'exec /bin/bash -c "$1"',
  ]
  return perNodeLaunch(shape, script, command, [])
}

/**
 * Ray: the head on the first host, a worker on each other host, both in the background for the
 * whole job; the driver (the task's command) starts once `ray status` counts every node, and an
 * EXIT trap stops the cluster. The driver runs in the batch shell on the first host with
 * RAY_ADDRESS set, so `ray.init()` joins this cluster.
 */
function rayLaunch(shape: LaunchShape, command: string): FrameworkLaunch {
  const resources = [
    `--num-cpus=${shape.cpusPerNode}`,
    ...(shape.gpusPerNode > 0 ? [`--num-gpus=${shape.gpusPerNode}`] : []),
  ]
  const head = nodeProgram(
    shape,
    [
      'exec ray start --head --node-ip-address="$RPO_MASTER_ADDR" --port="$RPO_MASTER_PORT" --block ' +
        resources.join(' '),
    ],
    command,
  )
  const worker = nodeProgram(shape, [`exec ray start --address="$RAY_ADDRESS" --block ${resources.join(' ')}`], command)
  const inContainer = (words: string) => [...shape.container, words].join(' ')
  const cpus = shape.cpusPerNode
  const [headStep, workerStep] =
    shape.scheduler === 'slurm'
      ? [
          `srun --nodes=1 --ntasks=1 --overlap --cpus-per-task=${cpus} -w "$RPO_MASTER_ADDR" ${head} &`,
          `srun --nodes="$((RPO_NNODES - 1))" --ntasks="$((RPO_NNODES - 1))" --ntasks-per-node=1 --overlap --cpus-per-task=${cpus} --exclude="$RPO_MASTER_ADDR" ${worker} &`,
        ]
      : [
          // PBS starts the batch shell on the first host of PBS_NODEFILE
          `${head} &`,
          `mpirun -np "$((RPO_NNODES - 1))" --host "$(IFS=,; printf '%s' "\${rpo_hosts[*]:1}")" --map-by ppr:1:node ${mpirunEnv(shape.passEnv).join(' ')} ${worker} &`,
        ]
  return {
    tasksPerNode: 1,
    cpusPerTask: cpus,
    setup: [
      ...allocationLines(shape.scheduler),
      'export RAY_ADDRESS="$RPO_MASTER_ADDR:$RPO_MASTER_PORT"',
      'rpo_ray_steps=()',
      // wait for the head and worker steps only: a bare `wait` would also wait for the batch
      // shell's other children, such as the PBS signal timer that sleeps until near the time limit
      `trap '${inContainer('ray stop').replaceAll("'", `'\\''`)} >/dev/null 2>&1; kill "\${rpo_ray_steps[@]}" 2>/dev/null; wait "\${rpo_ray_steps[@]}"' EXIT`,
      headStep,
      'rpo_ray_steps+=($!)',
      'if [ "$RPO_NNODES" -gt 1 ]; then',
      `  ${workerStep}`,
      '  rpo_ray_steps+=($!)',
      'fi',
      '# the driver starts once every node has joined',
      'rpo_ray_deadline=$((SECONDS + ${RPO_RAY_START_TIMEOUT:-300}))',
      `until [ "$(${inContainer('ray status --address "$RAY_ADDRESS"')} 2>/dev/null | grep -c 'node_')" -ge "$RPO_NNODES" ]; do`,
      '  if ! kill -0 "${rpo_ray_steps[0]}" 2>/dev/null; then echo "rpo: the Ray head on $RPO_MASTER_ADDR ended before the cluster was up" >&2; exit 1; fi',
      '  if [ "$SECONDS" -ge "$rpo_ray_deadline" ]; then echo "rpo: the Ray cluster did not reach $RPO_NNODES nodes within ${RPO_RAY_START_TIMEOUT:-300} s" >&2; exit 1; fi',
      '  sleep 2',
      'done',
    ],
    step: [inContainer(`/bin/bash -c ${quoteShellWord(command)}`)],
  }
}

export function frameworkLaunch(
  framework: Framework,
  shape: LaunchShape,
  command: string,
  checks: ScriptValueChecks,
): FrameworkLaunch {
  switch (framework) {
    case 'pytorch-ddp':
    case 'deepspeed':
      return torchrunLaunch(shape, command)
    case 'mpi':
      return rankLaunch(shape, command, shape.gpusPerNode > 0 ? shape.gpusPerNode : shape.cpusPerNode, checks)
    case 'horovod':
      return rankLaunch(shape, command, Math.max(1, shape.gpusPerNode), checks)
    case 'tensorflow':
      return tensorflowLaunch(shape, command)
    case 'jax':
      return jaxLaunch(shape, command)
    case 'ray':
      return rayLaunch(shape, command)
    case 'pytorch':
    case 'sklearn':
    case 'xgboost':
      throw checks.invalid(`framework ${framework} has no launcher`)
  }
}
