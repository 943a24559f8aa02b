/**
 * Drive `rpo run` the way an unlucky user does: start it, hurt it (SIGKILL at a drawn moment, or
 * Ctrl-C once or twice), start it again, until a run of the pipeline ends on its own. Returns the
 * run id and what happened, for the figures.
 */
import { runCli, type SpawnedCli, spawnCli } from '../../support/cli-harness.js'

/** When: `afterMs` after the start, or after the output first matches `afterOutput` when given. */
export type Hurt = { afterMs: number; afterOutput?: RegExp } & ({ kind: 'kill' } | { kind: 'interrupt'; times: 1 | 2 })

export interface RerunOutcome {
  readonly runId: string
  /** Times rpo was hurt (killed or interrupted) before it finished. */
  readonly hurts: number
  /** `rpo run` starts after the first. */
  readonly reruns: number
  readonly finalCode: number | null
  /** Everything every `rpo run` printed, in order. */
  readonly output: string
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled'])

export async function runStateOf(dir: string, runId: string): Promise<string> {
  const status = await runCli(dir, ['status', runId, '--json'])
  if (status.code !== 0) throw new Error(`rpo status ${runId} failed (${status.code}): ${status.stderr}`)
  return JSON.parse(status.stdout).state as string
}

/**
 * `nextHurt(i)` says how to hurt the i-th `rpo run` (undefined: let it finish). Stops when a run
 * ended by itself or the recorded run reached a final state (a kill that came after the end).
 */
export async function rerunUntilDone(
  dir: string,
  pipeline: string,
  nextHurt: (index: number) => Hurt | undefined,
  env: NodeJS.ProcessEnv = {},
): Promise<RerunOutcome> {
  let runId: string | undefined
  let hurts = 0
  let output = ''
  for (let index = 0; ; index++) {
    if (index > 500) throw new Error('rpo run was started 500 times without finishing')
    const cli: SpawnedCli = spawnCli(dir, ['run', pipeline], env)
    const hurt = nextHurt(index)
    let finishedAlone = true
    if (hurt) {
      const exited = cli.exited().then(() => 'exited' as const)
      const cue = hurt.afterOutput ? cli.waitFor(hurt.afterOutput, 600_000).catch(() => undefined) : Promise.resolve()
      const timer = cue.then(() => new Promise<'due'>((resolve) => setTimeout(() => resolve('due'), hurt.afterMs)))
      if ((await Promise.race([exited, timer])) === 'due') {
        finishedAlone = false
        hurts++
        if (hurt.kind === 'kill') cli.child.kill('SIGKILL')
        else {
          cli.child.kill('SIGINT')
          if (hurt.times === 2) {
            await new Promise((resolve) => setTimeout(resolve, 20))
            cli.child.kill('SIGINT')
          }
        }
      }
    }
    const { code, stdout, stderr } = await cli.closed()
    output += `${stderr}${stdout}`
    runId ??= /(?:started|continuing) run (\S+)/.exec(stderr)?.[1]
    if (finishedAlone) {
      if (!runId) throw new Error(`rpo run ended (${code}) without starting or continuing a run:\n${stderr}${stdout}`)
      return { runId, hurts, reruns: index, finalCode: code, output }
    }
    if (runId && TERMINAL.has(await runStateOf(dir, runId)))
      return { runId, hurts, reruns: index, finalCode: code, output }
  }
}
