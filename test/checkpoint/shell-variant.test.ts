// The shell variant (templates/checkpoint/rpo-checkpoint.sh) driven as a real bash job: the signal runs
// the task's own save command and the job exits 85; a resume continues from the committed checkpoint.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')
const TEMPLATES = path.join(ROOT, 'templates/checkpoint')
const HELPER = path.join(TEMPLATES, 'rpo-checkpoint.sh')
const COUNT_JOB = path.join(TEMPLATES, 'examples/count_shell.sh')
const PYTHON = process.env.RPO_TEST_PYTHON ?? '/usr/bin/python3'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function workDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rpo-ckpt-shell-'))
  dirs.push(dir)
  return dir
}

function jobEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(RPO_|SLURM_|PBS_)/.test(k)) env[k] = v
  return { ...env, RPO_PYTHON: PYTHON, PYTHONDONTWRITEBYTECODE: '1', ...extra }
}

interface Finished {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Start a bash job; `until` resolves when stdout or stderr matches. */
function start(args: string[], env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn('bash', args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters: Array<{ re: RegExp; resolve: () => void }> = []
  const check = () => {
    for (const w of waiters.splice(0)) {
      if (w.re.test(stdout) || w.re.test(stderr)) w.resolve()
      else waiters.push(w)
    }
  }
  child.stdout!.on('data', (chunk) => {
    stdout += String(chunk)
    check()
  })
  child.stderr!.on('data', (chunk) => {
    stderr += String(chunk)
    check()
  })
  const finished = new Promise<Finished>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  )
  return {
    child,
    until: (re: RegExp) =>
      new Promise<void>((resolve) => {
        waiters.push({ re, resolve })
        check()
      }),
    finished,
  }
}

function events(dir: string): Array<Record<string, unknown>> {
  const file = path.join(dir, 'events.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

describe('rpo-checkpoint.sh', () => {
  it('on SIGUSR2 runs the save command and exits 85; the resumed job continues from the checkpoint', async () => {
    const ckpt = path.join(workDir(), 'ck')
    const total = 150
    const job = start([COUNT_JOB, String(total), '0.02'], jobEnv({ RPO_CHECKPOINT_DIR: ckpt }))
    await job.until(/"step": 50\}/)
    job.child.kill('SIGUSR2')
    const first = await job.finished
    expect(first.code, first.stderr).toBe(85)
    expect(first.stderr).toContain('rpo-checkpoint: received SIGUSR2: running the save command')
    expect(first.stderr).toContain('rpo-checkpoint: checkpointed; exiting with 85 (resume me)')

    const manifest = JSON.parse(readFileSync(path.join(ckpt, 'manifest.json'), 'utf8'))
    expect(manifest).toMatchObject({ format: 'rpo-checkpoint-manifest', protocol: 1 })
    const entry = manifest.checkpoints.at(-1)
    expect(entry.step).toBeGreaterThanOrEqual(50)
    expect(entry.step).toBeLessThan(total)
    expect(readFileSync(path.join(ckpt, entry.file), 'utf8')).toBe(`${entry.step}\n`)
    expect(events(ckpt).map((e) => e.event)).toEqual([
      'checkpoint:none',
      'checkpoint:signal',
      'checkpoint:saved',
      'checkpoint:exit',
    ])

    const resumed = start([COUNT_JOB, String(total), '0.005'], jobEnv({ RPO_CHECKPOINT_DIR: ckpt, RPO_RESUME: '1' }))
    const second = await resumed.finished
    expect(second.code, second.stderr).toBe(0)
    const result = JSON.parse(second.stdout.trim().split('\n').at(-1)!)
    expect(result).toEqual({ event: 'finished', final: total, start: entry.step, executed: total - entry.step })
    expect(second.stderr).toContain(`rpo-checkpoint: resuming from ${entry.file} (step ${entry.step}`)
    // a step interrupted between its log line and its counter update is redone: at most one extra
    const executed = readFileSync(path.join(ckpt, 'executed-steps.log'), 'utf8').trim().split('\n').length
    expect(executed).toBeGreaterThanOrEqual(total)
    expect(executed).toBeLessThanOrEqual(total + 1)
  }, 60_000)

  it('a failing save command makes the job fail (exit 1), not ask for a resume, and stops the child', async () => {
    const dir = workDir()
    const ckpt = path.join(dir, 'ck')
    const script = path.join(dir, 'job.sh')
    writeFileSync(
      script,
      [
        `. ${JSON.stringify(HELPER)}`,
        `mkdir -p "$RPO_CHECKPOINT_DIR"`,
        `rpo_checkpoint_trap 'echo "child=$RPO_CHILD_PID" >&2; false'`,
        `rpo_checkpoint_run bash -c 'echo ready >&2; exec sleep 30'`,
        'echo "not reached"',
      ].join('\n'),
    )
    const job = start([script], jobEnv({ RPO_CHECKPOINT_DIR: ckpt }))
    await job.until(/ready/)
    await new Promise((r) => setTimeout(r, 100)) // the child is up; let the job shell reach `wait`
    job.child.kill('SIGUSR2')
    const done = await job.finished
    expect(done.code, done.stderr).toBe(1)
    expect(done.stdout).not.toContain('not reached')
    expect(done.stderr).toContain('rpo-checkpoint: the save command failed (exit 1); exiting with 1')
    const childPid = Number(/child=(\d+)/.exec(done.stderr)?.[1])
    expect(childPid).toBeGreaterThan(0)
    expect(() => process.kill(childPid, 0)).toThrow()
    expect(events(ckpt).map((e) => e.event)).toEqual(['checkpoint:signal', 'checkpoint:save-failed'])
  }, 30_000)

  it('uses the configured signal (RPO_CHECKPOINT_SIGNAL)', async () => {
    const dir = workDir()
    const script = path.join(dir, 'job.sh')
    writeFileSync(
      script,
      [
        `. ${JSON.stringify(HELPER)}`,
        `rpo_checkpoint_trap 'echo saved-on-$(rpo_checkpoint_signal_name) >&2'`,
        `rpo_checkpoint_run bash -c 'echo ready >&2; exec sleep 30'`,
      ].join('\n'),
    )
    const job = start([script], jobEnv({ RPO_CHECKPOINT_SIGNAL: 'SIGUSR1' }))
    await job.until(/ready/)
    await new Promise((r) => setTimeout(r, 100))
    job.child.kill('SIGUSR1')
    const done = await job.finished
    expect(done.code, done.stderr).toBe(85)
    expect(done.stderr).toContain('saved-on-USR1')
  }, 30_000)

  it('tells a resume from a first start', () => {
    const resuming = (extra: Record<string, string>) =>
      spawnSync('bash', ['-c', `. ${JSON.stringify(HELPER)}; rpo_checkpoint_resuming && echo yes || echo no`], {
        env: jobEnv(extra),
        encoding: 'utf8',
      }).stdout.trim()
    expect(resuming({})).toBe('no')
    expect(resuming({ RPO_RESUME: '0', SLURM_RESTART_COUNT: '0' })).toBe('no')
    expect(resuming({ RPO_RESUME: '1' })).toBe('yes')
    expect(resuming({ SLURM_RESTART_COUNT: '2' })).toBe('yes')
    expect(resuming({ RPO_RESTART_COUNT: '1' })).toBe('yes')
  })
})
