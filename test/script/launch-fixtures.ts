/**
 * Shared by the launch tests: a job submission to render, the rendered Slurm/PBS scripts, and a
 * runner that executes a rendered script with bash against the stub launchers of ./stubs, with a
 * fake allocation in the environment, and reads back what each stub was given (stubs/stub-record.sh).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PBS_JOB_TEMPLATE_FILE, renderPbsScript } from '../../adapters/pbs/pbs-script.js'
import { renderSlurmScript, SLURM_JOB_TEMPLATE_FILE } from '../../adapters/slurm/slurm-script.js'
import type { Framework, SoftwareEnvironment } from '../../src/core/pipeline/workload-fields.js'
import { asSubmissionKey, type JobSubmission } from '../../src/scheduler/scheduler-adapter.js'

const ROOT = join(import.meta.dirname, '..', '..')
export const STUBS = join(import.meta.dirname, 'stubs')
export const TRAINER = join(STUBS, 'trainer.py')
const SLURM_TEMPLATE = readFileSync(join(ROOT, SLURM_JOB_TEMPLATE_FILE), 'utf8')
const PBS_TEMPLATE = readFileSync(join(ROOT, PBS_JOB_TEMPLATE_FILE), 'utf8')

export function environment(overrides: Partial<SoftwareEnvironment> = {}): SoftwareEnvironment {
  return { modules: [], conda: null, venv: null, container: null, setup: [], ...overrides }
}

export interface JobShape {
  readonly framework?: Framework
  readonly nodes?: number
  readonly cpus?: number
  readonly gpus?: number
  readonly environment?: SoftwareEnvironment
  /** The checkpoint signal (the batch shell forwards it); absent for a job that does not checkpoint. */
  readonly signal?: string
  readonly command?: string
}

export function launchJob(shape: JobShape = {}): JobSubmission {
  return {
    submissionKey: asSubmissionKey('r1.train.1'),
    runId: 'r1',
    taskId: 'train',
    attempt: 1,
    command: shape.command ?? `python3 ${TRAINER} --epochs 2`,
    // PBS scripts cd into it: a folder that exists here
    workDir: tmpdir(),
    jobDir: '/home/alice/.rpo/jobs/r1.train.1',
    env: { RPO_RUN_ID: 'r1' },
    resources: {
      cpus: shape.cpus ?? 8,
      memoryMb: 16_000,
      timeLimitSeconds: 3_600,
      gpus: shape.gpus ? { count: shape.gpus, types: [] } : null,
      nodes: shape.nodes ?? 1,
    },
    dependsOn: [],
    project: null,
    ...(shape.framework ? { framework: shape.framework } : {}),
    ...(shape.environment ? { environment: shape.environment } : {}),
    ...(shape.signal ? { checkpoint: { signal: shape.signal, leadSeconds: 120, maxRestarts: 3 } } : {}),
  }
}

export function slurmScript(shape: JobShape = {}): string {
  return renderSlurmScript(SLURM_TEMPLATE, launchJob(shape))
}

export function pbsScript(shape: JobShape = {}): string {
  return renderPbsScript(PBS_TEMPLATE, launchJob(shape), { flavor: 'pbspro' })
}

/** One stub invocation: which stub, the variables it saw, its argv. */
export interface StubCall {
  readonly name: string
  readonly env: Readonly<Record<string, string>>
  readonly argv: readonly string[]
}

export function readStubLog(file: string): StubCall[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [head = '', args = ''] = line.split('\x1d')
      const [name = '', ...pairs] = head.split('\x1e')
      const env = Object.fromEntries(
        pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      )
      return { name, env, argv: args.split('\x1f').slice(0, -1) }
    })
}

export interface ScriptRun {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  readonly calls: StubCall[]
  readonly state: string
}

export interface RunOptions {
  /** The fake allocation's variables (SLURM_JOB_NODELIST, PBS_NODEFILE contents…). */
  readonly env?: Readonly<Record<string, string>>
  /** PBS: the hosts to write into PBS_NODEFILE, one line per CPU slot as PBS does. */
  readonly pbsNodefile?: readonly string[]
  /** Send this signal to the batch shell once `readyRanks` trainers said they are ready. */
  readonly signal?: { readonly name: NodeJS.Signals; readonly readyRanks: number }
  /** Write $STUB_STATE/conda/etc/profile.d/conda.sh, whose `conda activate` is recorded. */
  readonly conda?: boolean
}

/** Run a rendered batch script with bash, the stubs first on PATH, in a fresh folder. */
export async function runScript(script: string, options: RunOptions = {}): Promise<ScriptRun> {
  const state = mkdtempSync(join(tmpdir(), 'rpo-launch-'))
  const log = join(state, 'stub.log')
  const file = join(state, 'job.sh')
  writeFileSync(file, script)
  const env: Record<string, string> = {
    PATH: `${STUBS}:/usr/bin:/bin`,
    HOME: state,
    STUB_LOG: log,
    STUB_STATE: state,
    STUB_BIN: STUBS,
    STUB_TRAINER_WAIT: options.signal ? '1' : '0',
    ...options.env,
  }
  if (options.pbsNodefile) {
    env.PBS_NODEFILE = join(state, 'nodefile')
    writeFileSync(env.PBS_NODEFILE, `${options.pbsNodefile.join('\n')}\n`)
  }
  if (options.conda) {
    mkdirSync(join(state, 'conda', 'etc', 'profile.d'), { recursive: true })
    writeFileSync(
      join(state, 'conda', 'etc', 'profile.d', 'conda.sh'),
      [
        '. "$STUB_BIN/stub-record.sh"',
        'conda() { stub_record conda-function "$@"; [ "$1" = activate ] && export CONDA_PREFIX="$STUB_STATE/envs/$2"; }',
        '',
      ].join('\n'),
    )
  }
  const child = spawn('/bin/bash', [file], { cwd: state, env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const ended = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal })),
  )
  if (options.signal) {
    const { name, readyRanks } = options.signal
    // the trainers say when their handler is installed; signalling earlier would test nothing
    const deadline = Date.now() + 60_000
    let finished = false
    void ended.then(() => {
      finished = true
    })
    while (!finished && readdirSync(state).filter((f) => f.startsWith('ready-')).length < readyRanks) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`only some of ${readyRanks} ranks became ready: ${stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    if (!finished) child.kill(name)
  }
  const { status, signal } = await ended
  return { status, signal, stderr, calls: readStubLog(log), state }
}

/** The calls of one stub, in the order they were recorded. */
export function callsOf(run: ScriptRun, name: string): StubCall[] {
  return run.calls.filter((call) => call.name === name)
}
