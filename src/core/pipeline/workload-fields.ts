/**
 * What a task says about its workload, beyond raw resources: the ML framework it runs (which decides
 * how it is launched and what it needs per GPU), the model it trains (from which GPU memory per
 * device is estimated) and the software environment its script sets up (modules, conda or venv,
 * a container, setup lines). The pipeline file's schemas and their resolved forms. Pure (zod only).
 */
import { z } from 'zod'
import { parseMemoryMb } from './units.js'

/**
 * Frameworks rpo knows how to place and launch. `pytorch` is one process (no launcher);
 * `pytorch-ddp` starts ranks with torchrun; `mpi` starts ranks with srun --mpi / mpirun.
 */
export const FRAMEWORKS = [
  'pytorch',
  'pytorch-ddp',
  'deepspeed',
  'tensorflow',
  'horovod',
  'ray',
  'jax',
  'mpi',
  'sklearn',
  'xgboost',
] as const
export type Framework = (typeof FRAMEWORKS)[number]
export const FrameworkSchema = z
  .enum(FRAMEWORKS)
  .describe(
    'How the task is launched and what it needs: pytorch, pytorch-ddp (torchrun), deepspeed, tensorflow (multi-worker), horovod, ray, jax, mpi, sklearn, xgboost',
  )

export const PRECISIONS = ['fp32', 'tf32', 'fp16', 'bf16', 'mixed', 'fp8', 'int8', 'int4'] as const
export type Precision = (typeof PRECISIONS)[number]
export const OPTIMIZERS = ['adam', 'adamw', 'sgd', 'sgd-momentum', 'adafactor', 'lion', 'none'] as const
export type Optimizer = (typeof OPTIMIZERS)[number]

const PARAMETER_SUFFIX: Readonly<Record<string, number>> = { K: 1e3, M: 1e6, B: 1e9, G: 1e9, T: 1e12 }

/** `350M`, `7B`, `1.3e9`, `70_000_000` or a number → a parameter count; null when unreadable. */
export function parseParameterCount(value: number | string): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : null
  const match = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([KMBGT])?\s*$/i.exec(value.replaceAll('_', ''))
  if (!match) return null
  const count = Number(match[1]) * (match[2] ? (PARAMETER_SUFFIX[match[2].toUpperCase()] as number) : 1)
  return Number.isFinite(count) && count > 0 ? count : null
}

const memorySize = z.union([z.number().positive(), z.string()]).refine((v) => (parseMemoryMb(v) ?? 0) > 0, {
  error: 'expected a memory size such as 512M, 16G or 1.5T',
})

export const ModelSpecSchema = z
  .strictObject({
    parameters: z
      .union([z.number(), z.string()])
      .refine((v) => parseParameterCount(v) !== null, {
        error: 'expected a parameter count such as 350M, 7B or 1.3e9',
      })
      .describe('Trainable parameters: a number, or 350M, 7B, 1.3e9'),
    precision: z.enum(PRECISIONS).optional().describe('Numeric precision of training @default mixed'),
    optimizer: z.enum(OPTIMIZERS).optional().describe("Optimizer; 'none' for inference @default adamw"),
    activations: memorySize.optional().describe('Activation memory per GPU, when known (otherwise a margin is added)'),
  })
  .describe('The model a task trains, from which GPU memory per device is estimated')
export type ModelSpec = z.infer<typeof ModelSpecSchema>

export interface ResolvedModel {
  readonly parameters: number
  readonly precision: Precision
  readonly optimizer: Optimizer
  /** Activation memory per GPU in MB; null leaves the margin to the estimate. */
  readonly activationsMb: number | null
}

export function resolveModel(spec: ModelSpec): ResolvedModel {
  return {
    parameters: parseParameterCount(spec.parameters) as number,
    precision: spec.precision ?? 'mixed',
    optimizer: spec.optimizer ?? 'adamw',
    activationsMb: spec.activations === undefined ? null : parseMemoryMb(spec.activations),
  }
}

const CONTAINER_RUNTIMES = ['apptainer', 'singularity', 'docker', 'podman'] as const
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number]

const nonEmpty = z.string().min(1)

const ContainerSpecSchema = z.strictObject({
  image: nonEmpty.describe('Image: a path to a .sif file or a registry reference'),
  runtime: z.enum(CONTAINER_RUNTIMES).optional().describe('@default apptainer'),
  bind: z.array(nonEmpty).optional().describe('Bind mounts, SRC[:DST[:OPTS]]'),
  options: z.array(nonEmpty).optional().describe('Extra runtime options, e.g. --nv'),
})

export const SoftwareEnvironmentSchema = z
  .strictObject({
    modules: z.array(nonEmpty).optional().describe('Environment modules to load, in order (module load …)'),
    conda: nonEmpty.optional().describe('Conda environment name or prefix to activate'),
    venv: nonEmpty.optional().describe('Python virtual environment folder to activate'),
    container: ContainerSpecSchema.optional().describe('Run the task inside this container'),
    setup: z.array(nonEmpty).optional().describe('Shell lines run before the task, after the above'),
  })
  .refine((spec) => spec.conda === undefined || spec.venv === undefined, {
    error: 'expected at most one of "conda" or "venv"',
  })
  .describe(
    'Software environment the batch script sets up before the task (environment modules, conda/venv, container)',
  )
export type SoftwareEnvironmentSpec = z.infer<typeof SoftwareEnvironmentSchema>

export interface ResolvedContainer {
  readonly image: string
  readonly runtime: ContainerRuntime
  readonly bind: readonly string[]
  readonly options: readonly string[]
}

export interface SoftwareEnvironment {
  readonly modules: readonly string[]
  readonly conda: string | null
  readonly venv: string | null
  readonly container: ResolvedContainer | null
  readonly setup: readonly string[]
}

/**
 * The task's environment over the pipeline's defaults, key by key: a key the task names replaces
 * the default's (so a task can drop the default modules with `modules: []`). Null when neither says
 * anything.
 */
export function resolveSoftwareEnvironment(
  defaults: SoftwareEnvironmentSpec | undefined,
  task: SoftwareEnvironmentSpec | undefined,
): SoftwareEnvironment | null {
  if (defaults === undefined && task === undefined) return null
  const merged = { ...defaults, ...task }
  // conda and venv exclude each other: the task's choice of one drops the default's other
  const pythonEnv = task?.conda !== undefined || task?.venv !== undefined ? task : defaults
  const container = merged.container
  return {
    modules: merged.modules ?? [],
    conda: pythonEnv?.conda ?? null,
    venv: pythonEnv?.venv ?? null,
    container:
      container === undefined
        ? null
        : {
            image: container.image,
            runtime: container.runtime ?? 'apptainer',
            bind: container.bind ?? [],
            options: container.options ?? [],
          },
    setup: merged.setup ?? [],
  }
}
