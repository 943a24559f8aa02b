// The one command runner of the Slurm and PBS adapters, on the real local shell: what a command that
// fails, hangs or is not there becomes (command-failed, a transient scheduler-unavailable, a
// connection-side timeout), and the answers a caller accepts.
import { describe, expect, it } from 'vitest'
import { type RpoError, SchedulerCommandError, TransportError } from '../../src/core/errors.js'
import { CommandRunner } from '../../src/scheduler/command-runner.js'
import { createLocalTransport } from '../../src/transport/local-transport.js'

const runner = (timeoutMs = 5000) =>
  new CommandRunner({
    transport: createLocalTransport(),
    scheduler: 'Slurm',
    unavailable: /Unable to contact slurm controller/,
    timeoutMs,
  })

describe('CommandRunner', () => {
  it('returns what a command that succeeded printed', async () => {
    await expect(runner().run(['sh', '-c', 'echo ok'], { idempotent: true })).resolves.toMatchObject({
      stdout: 'ok\n',
      exitCode: 0,
    })
  })

  it('a command that exits 1 is command-failed, with what it said, not retryable', async () => {
    const error = await runner()
      .run(['env', 'SLURM_TIME_FORMAT=standard', 'sh', '-c', 'echo "squeue: error: Invalid user" >&2; exit 1'], {
        idempotent: true,
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SchedulerCommandError)
    expect(error).toMatchObject({
      code: 'command-failed',
      retryable: false,
      exitCode: 1,
      // named by the command itself, not the `env VAR=…` in front of it
      argv: ['sh', '-c', 'echo "squeue: error: Invalid user" >&2; exit 1'],
      message: 'sh failed (exit 1): squeue: error: Invalid user',
    })
  })

  it('the scheduler saying it is down is transient: scheduler-unavailable, retryable', async () => {
    const said = 'echo "squeue: error: Unable to contact slurm controller (connect failure)" >&2; exit 1'
    await expect(runner().run(['sh', '-c', said], { idempotent: true })).rejects.toMatchObject({
      code: 'scheduler-unavailable',
      retryable: true,
    })
  })

  it('a failure the caller accepts is an answer', async () => {
    const result = await runner().run(['sh', '-c', 'echo "Invalid job id specified" >&2; exit 1'], {
      idempotent: true,
      allowFailure: (r) => r.stderr.includes('Invalid job id'),
    })
    expect(result.exitCode).toBe(1)
  })

  it('a command that is not there says so and asks where it runs', async () => {
    const error = await runner()
      .run(['rpo-no-such-command-xyz', '--version'], { idempotent: true })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'command-failed', exitCode: 127 })
    expect((error as RpoError).message).toBe(
      'rpo-no-such-command-xyz is not available on local: is this a Slurm login node, with rpo-no-such-command-xyz on the PATH of a non-interactive shell?',
    )
  })

  it('a command that hangs past its timeout is the connection side’s command-timeout', async () => {
    const error = await runner(300)
      .run(['sleep', '30'], { idempotent: true })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TransportError)
    expect(error).toMatchObject({ code: 'command-timeout' })
  })

  it('gives a command that handles many jobs more time', () => {
    expect(runner(1000).timeout()).toBe(1200)
    expect(runner(1000).timeout(10)).toBe(3000)
  })

  it('checks a script only when asked, and names it by its label', async () => {
    const script = 'echo "qdel: Unauthorized Request" >&2\nexit 159\n'
    await expect(runner().runScript(script, { idempotent: true, label: ['qdel', '1'] })).resolves.toMatchObject({
      exitCode: 159,
    })
    await expect(
      runner().runScript(script, { idempotent: true, label: ['qdel', '1'], check: true }),
    ).rejects.toMatchObject({
      code: 'command-failed',
      argv: ['qdel', '1'],
      message: 'qdel failed (exit 159): qdel: Unauthorized Request',
    })
  })
})
