/**
 * Shared by the launch tests: a job submission to render, the rendered Slurm/PBS scripts, and a
 * runner that executes a rendered script with bash against the stub launchers of ./stubs, with a
 * fake allocation in the environment, and reads back what each stub was given (stubs/stub-record.sh).
 */
import { spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { PBS_JOB_TEMPLATE_FILE, renderPbsScript } from '../../adapters/pbs/pbs-script.js'
import { renderSlurmScript, SLURM_JOB_TEMPLATE_FILE } from '../../adapters/slurm/slurm-script.js'
import type { Framework, SoftwareEnvironment } from '../../src/core/pipeline/workload-fields.js'
import { asSubmissionKey, type JobSubmission } from '../../src/scheduler/scheduler-adapter.js'

const ROOT = join(import.meta.dirname, '..', '..')
export const STUBS = join(import.meta.dirname, 'stubs')
export const TRAINER = join(STUBS, 'trainer.py')
const SLURM_TEMPLATE = readFileSync(join(ROOT, SLURM_JOB_TEMPLATE_FILE), 'utf8')
const PBS_TEMPLATE = readFileSync(join(ROOT, PBS_JOB_TEMPLATE_FILE), 'utf8')
/** The job's folder, shared by its ranks: torchrun workers leave their checkpoint mark there. */
const JOB_DIR = mkdtempSync(join(tmpdir(), 'rpo-launch-job-'))
afterAll(() => rmSync(JOB_DIR, { recursive: true, force: true }))

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
  /** Extra variables of the job (the task's `env`). */
  readonly env?: Readonly<Record<string, string>>
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
    jobDir: JOB_DIR,
    env: { RPO_RUN_ID: 'r1', ...shape.env },
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
  /** Stubs to leave out, so that the real program of that name runs (e.g. torchrun). */
  readonly realPrograms?: readonly string[]
}

/** Run a rendered batch script with bash, the stubs first on PATH, in a fresh folder. */
export async function runScript(script: string, options: RunOptions = {}): Promise<ScriptRun> {
  const state = mkdtempSync(join(tmpdir(), 'rpo-launch-'))
  const log = join(state, 'stub.log')
  const file = join(state, 'job.sh')
  writeFileSync(file, script)
  let stubs = STUBS
  if (options.realPrograms?.length) {
    stubs = join(state, 'stubs')
    mkdirSync(stubs)
    for (const name of readdirSync(STUBS)) {
      if (!options.realPrograms.includes(name)) symlinkSync(join(STUBS, name), join(stubs, name))
    }
  }
  const env: Record<string, string> = {
    PATH: `${stubs}:/usr/bin:/bin`,
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
  // a process group of its own, so that what the script leaves behind (the PBS signal timer's
  // `sleep`) can be ended with it
  const child = spawn('/bin/bash', [file], { cwd: state, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
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
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
  } catch {
    // nothing was left
  }
  const calls = readStubLog(log)
  rmSync(state, { recursive: true, force: true })
  return { status, signal, stderr, calls, state }
}

/** The calls of one stub, in the order they were recorded. */
export function callsOf(run: ScriptRun, name: string): StubCall[] {
  return run.calls.filter((call) => call.name === name)
}

/** Real listeners on `count` consecutive ports of 127.0.0.1, from `first` on. */
export interface OccupiedPorts {
  readonly first: number
  close(): Promise<void>
}

function listen(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(null))
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

function closeAll(servers: readonly Server[]): Promise<void> {
  return Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {})
}

/**
 * Listen on `count` consecutive ports of 127.0.0.1 in rpo's port range (15000–29999), where the
 * port after them was free too when they were found: a batch script whose derived port is `first`
 * must step over them. Starts at a random place, so that parallel test files rarely collide.
 */
export async function occupyPorts(count: number): Promise<OccupiedPorts> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 9_000)
    const servers: Server[] = []
    for (let port = first; port <= first + count; port++) {
      const server = await listen(port)
      if (server === null) break
      servers.push(server)
    }
    if (servers.length === count + 1) {
      // the one after the block only had to be free: let it go
      await closeAll(servers.splice(count, 1))
      return { first, close: () => closeAll(servers) }
    }
    await closeAll(servers)
  }
  throw new Error(`no ${count + 1} free consecutive ports found on 127.0.0.1`)
}
