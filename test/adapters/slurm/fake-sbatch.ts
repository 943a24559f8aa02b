/**
 * A fake `sbatch` on PATH for running generated batch scripts with the local bash: it answers job
 * ids 700, 701, … in call order, keeps each call's argv and script, and acts on a marker line in the
 * script it reads: `# fake-sbatch: refuse` (a two-line error, exit 1) or `# fake-sbatch: warn` (a
 * warning on stderr before the id, as a job_submit plugin's message is).
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const FAKE = `#!/bin/bash
state=$FAKE_SBATCH_STATE
n=700
[ -f "$state/next" ] && n=$(cat "$state/next")
script=$(cat)
case "$script" in
*'# fake-sbatch: refuse'*)
  echo 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified' >&2
  echo 'sbatch: error: (second line)' >&2
  exit 1 ;;
esac
echo $((n + 1)) >"$state/next"
printf '%s\\n' "$@" >"$state/argv.$n"
printf '%s' "$script" >"$state/script.$n"
case "$script" in *'# fake-sbatch: warn'*) echo 'sbatch: warning: job_submit: your job was routed to partition cpu' >&2 ;; esac
echo "$n"
`

export interface FakeSbatchRun {
  readonly stdout: string
  readonly stderr: string
  readonly status: number | null
  /** The argv of each accepted submission, by the id it was given. */
  readonly argv: ReadonlyMap<string, string[]>
  /** Files left in the run's TMPDIR (the batch's scratch file must not be among them). */
  readonly leftInTmp: readonly string[]
}

/** Run `script` from stdin with bash (as the transports run batch scripts) against the fake sbatch. */
export function runWithFakeSbatch(script: string): FakeSbatchRun {
  const root = mkdtempSync(join(tmpdir(), 'rpo-fake-sbatch-'))
  const bin = join(root, 'bin')
  const state = join(root, 'state')
  const tmp = join(root, 'tmp')
  for (const dir of [bin, state, tmp]) mkdirSync(dir)
  writeFileSync(join(bin, 'sbatch'), FAKE)
  chmodSync(join(bin, 'sbatch'), 0o755)
  const run = spawnSync('bash', ['-s'], {
    input: script,
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}`, FAKE_SBATCH_STATE: state, TMPDIR: tmp },
  })
  try {
    const argv = new Map<string, string[]>()
    for (const file of readdirSync(state).filter((f) => f.startsWith('argv.'))) {
      argv.set(file.slice('argv.'.length), readFileSync(join(state, file), 'utf8').split('\n').slice(0, -1))
    }
    return { stdout: run.stdout, stderr: run.stderr, status: run.status, argv, leftInTmp: readdirSync(tmp) }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}
