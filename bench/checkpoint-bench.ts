/**
 * Checkpoint cost for a PyTorch job (templates/checkpoint/bench_overhead.py under Debian's
 * python3-torch): overhead as a share of compute at the default interval, and the restore time of
 * a ~1 GiB checkpoint. RPO_BENCH_QUICK=1 runs the small version (seconds instead of minutes).
 */
import { spawnSync } from 'node:child_process'
import { templatePath } from '../src/package-root.js'

const PYTHON = process.env.RPO_TEST_PYTHON ?? '/usr/bin/python3'
const SCRIPT = templatePath('checkpoint', 'bench_overhead.py')

interface OverheadSide {
  readonly cost_per_save_seconds: number
  readonly blocking_per_save_seconds: number
  readonly overhead_percent_at_default_interval: number
}

interface CheckpointBench {
  readonly overhead: {
    readonly checkpoint_bytes: number
    readonly default_interval_seconds: number
    readonly sync: OverheadSide
    readonly async: OverheadSide
  }
  readonly restore: {
    readonly checkpoint_bytes: number
    readonly warm: { readonly restore_seconds: number }
    readonly cold: { readonly restore_seconds: number }
  }
}

export async function benchCheckpoint(): Promise<void> {
  console.log('\n## checkpoint (PyTorch job, templates/checkpoint)')
  const quick = process.env.RPO_BENCH_QUICK === '1'
  const result = spawnSync(PYTHON, [SCRIPT, '--json', ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    maxBuffer: 16 * 1024 * 1024,
  })
  if (result.status !== 0) {
    console.log(
      `skipped: ${PYTHON} ${SCRIPT} failed (needs python3-torch): ${(result.stderr ?? '').trim().split('\n').at(-1)}`,
    )
    return
  }
  const bench = JSON.parse(result.stdout) as CheckpointBench
  const { overhead, restore } = bench
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`
  for (const mode of ['sync', 'async'] as const) {
    const side = overhead[mode]
    const pct = side.overhead_percent_at_default_interval
    console.log(
      `overhead, ${mode.padEnd(5)} save of ${mb(overhead.checkpoint_bytes)} every ${overhead.default_interval_seconds} s`.padEnd(
        58,
      ) +
        ` ${pct.toFixed(3)} % of compute (${side.blocking_per_save_seconds.toFixed(2)} s blocking per save)` +
        `   target ≤ 5 %, aim ≤ 1 % → ${pct <= 1 ? 'ok' : pct <= 5 ? 'within target' : 'MISSED'} (${(pct / 5).toFixed(3)}× of target)`,
    )
  }
  for (const cache of ['warm', 'cold'] as const) {
    const seconds = restore[cache].restore_seconds
    console.log(
      `restore of ${mb(restore.checkpoint_bytes)} (${cache} page cache), verified`.padEnd(58) +
        ` ${seconds.toFixed(2)} s   target < 30 s → ${seconds < 30 ? 'ok' : 'MISSED'} (${(seconds / 30).toFixed(2)}× of target)${quick ? '  [quick: small checkpoint]' : ''}`,
    )
  }
}
