// The job-side checkpoint helper (templates/checkpoint/rpo_checkpoint.py) under a real Python with real
// PyTorch and scikit-learn: its unittest suites (manifest, atomic write, fallback, pruning, async, signal,
// the example jobs interrupted and resumed), the TensorFlow adapter's behaviour where TensorFlow is
// missing, and the agreement between docs/checkpointing.md and the constants in code.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')
const TEMPLATES = path.join(ROOT, 'templates/checkpoint')
/** Debian's python3 with python3-torch, python3-sklearn, python3-joblib (the PATH python3 may lack them). */
const PYTHON = process.env.RPO_TEST_PYTHON ?? '/usr/bin/python3'
/** no __pycache__ folders in the work tree */
const PY_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }

function python(code: string): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(PYTHON, ['-c', code], { cwd: ROOT, encoding: 'utf8', env: PY_ENV })
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') }
}

function runUnittest(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', 'unittest', 'discover', '-s', 'test/checkpoint/python', '-v'], {
      cwd: ROOT,
      env: PY_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += String(chunk)
    })
    child.stderr.on('data', (chunk) => {
      output += String(chunk)
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

describe('rpo_checkpoint.py', () => {
  it(`runs under ${PYTHON}, which has PyTorch, scikit-learn, numpy and joblib`, () => {
    const result = python('import torch, sklearn, numpy, joblib; print(torch.__version__, sklearn.__version__)')
    expect(
      result.code,
      `${PYTHON} cannot import the frameworks the checkpoint tests use (Debian: apt-get install python3-torch ` +
        `python3-sklearn python3-joblib; or set RPO_TEST_PYTHON):\n${result.stderr}`,
    ).toBe(0)
  })

  it('passes its unittest suites (unit tests and the example jobs interrupted and resumed)', async () => {
    const { code, output } = await runUnittest()
    const ran = /^Ran (\d+) tests? in [\d.]+s$/m.exec(output)
    expect(ran, output).not.toBeNull()
    expect(code, output).toBe(0)
    expect(output, output).toMatch(/^OK(?: \(skipped=\d+\))?$/m)
    const results = [...output.matchAll(/^(test_\w+) \((test_\w+)\.(\w+)\.\1\) \.\.\. (.*)$/gm)].map((m) => ({
      name: m[1]!,
      module: m[2]!,
      klass: m[3]!,
      outcome: m[4]!,
    }))
    expect(results.length).toBe(Number(ran![1]))
    // the only tests that may not run here are TensorFlow's, and they say so
    const notOk = results.filter((r) => r.outcome !== 'ok')
    for (const r of notOk) {
      expect(r.klass).toBe('TensorFlowRoundTripTest')
      expect(r.outcome).toBe("skipped 'NOT RUNNABLE HERE: TensorFlow is not installed on this machine'")
    }
    const ok = new Set(results.filter((r) => r.outcome === 'ok').map((r) => `${r.klass}.${r.name}`))
    for (const name of [
      'ManifestTest.test_manifest_records_each_checkpoint',
      'AtomicWriteTest.test_a_crash_in_the_middle_of_a_large_save_keeps_the_previous_checkpoint',
      'AtomicWriteTest.test_a_crash_in_the_middle_of_an_async_write_keeps_the_previous_checkpoint',
      'FallbackTest.test_a_truncated_newest_falls_back',
      'FallbackTest.test_a_flipped_byte_falls_back',
      'FallbackTest.test_a_deleted_newest_falls_back',
      'NoCheckpointTest.test_an_empty_directory_starts_fresh',
      'PruneTest.test_only_the_newest_keep_remain',
      'AsyncTest.test_async_saves_write_the_same_bytes_as_sync_saves',
      'ScheduleAndSignalTest.test_the_signal_sets_the_flag_and_the_next_maybe_save_saves_at_once',
      'AdapterTest.test_torch_state_round_trips_model_optimizer_scheduler_extra_and_rng',
      'AdapterTest.test_tensorflow_state_without_tensorflow_raises_a_clear_import_error',
      'TorchExampleTest.test_sigusr2_then_resume_gives_identical_weights',
      'TorchExampleTest.test_with_async_saves',
      'TorchExampleTest.test_a_crash_resumes_from_the_last_periodic_checkpoint',
      'SklearnExampleTest.test_sigusr2_then_resume_gives_identical_coefficients',
    ]) {
      expect(ok.has(name), `${name} did not run and pass:\n${output}`).toBe(true)
    }
  }, 300_000)

  it('TensorFlowState cannot run here: without TensorFlow, using it raises a clear ImportError', () => {
    const result = python(
      [
        'import sys',
        `sys.path.insert(0, ${JSON.stringify(TEMPLATES)})`,
        'import rpo_checkpoint',
        'assert "tensorflow" not in sys.modules, "importing the helper must not import TensorFlow"',
        'try:',
        '    import tensorflow',
        '    print("TENSORFLOW-INSTALLED")',
        'except ImportError:',
        '    try:',
        '        rpo_checkpoint.TensorFlowState(object())',
        '    except ImportError as exc:',
        '        print("IMPORT-ERROR:", exc)',
      ].join('\n'),
    )
    expect(result.code, result.stderr).toBe(0)
    // this machine has no TensorFlow: its round trip (TensorFlowRoundTripTest) is reported as not runnable
    expect(result.stdout).not.toContain('TENSORFLOW-INSTALLED')
    expect(result.stdout).toMatch(
      /^IMPORT-ERROR: rpo_checkpoint\.TensorFlowState needs TensorFlow, which is not installed/,
    )
    expect(result.stdout).toContain('Install tensorflow in the job')
  })
})

describe('docs/checkpointing.md (protocol version 1)', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/checkpointing.md'), 'utf8')
  const shell = readFileSync(path.join(TEMPLATES, 'rpo-checkpoint.sh'), 'utf8')

  it('states the constants the helpers use', () => {
    const result = python(
      `import sys, json; sys.path.insert(0, ${JSON.stringify(TEMPLATES)}); import rpo_checkpoint as r; ` +
        'print(json.dumps({k: getattr(r, k) for k in dir(r) if k.isupper() and not k.startswith("_")}))',
    )
    expect(result.code, result.stderr).toBe(0)
    const c = JSON.parse(result.stdout) as Record<string, string | number>
    expect(c.PROTOCOL_VERSION).toBe(1)
    expect(doc).toMatch(/protocol version 1/i)
    expect(doc).toContain(`\`${c.EXIT_RESUME}\``)
    expect(shell).toContain(`RPO_CHECKPOINT_EXIT_RESUME=${c.EXIT_RESUME}`)
    expect(shell).toContain(`RPO_CHECKPOINT_PROTOCOL_VERSION=${c.PROTOCOL_VERSION}`)
    for (const key of Object.keys(c).filter((k) => k.startsWith('ENV_'))) {
      expect(doc, `${c[key]} is documented`).toContain(`\`${c[key]}\``)
    }
    for (const key of ['MANIFEST_NAME', 'EVENTS_NAME', 'MANIFEST_FORMAT', 'DEFAULT_SIGNAL']) {
      expect(doc, `${c[key]} is documented`).toContain(String(c[key]))
    }
    expect(doc).toContain(`${c.DEFAULT_EVERY_SECONDS} s`)
  })
})
