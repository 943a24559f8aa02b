/**
 * The software environment of a batch script (a task's `environment:`), rendered as shell lines in
 * the order HPC users expect: environment modules, then conda or a venv, then the task's own setup
 * lines — and the container, as the words that run a program inside it. Pure: text in, text out;
 * every value is shell-quoted, setup lines are the user's shell and go in as written.
 */
import type { ResolvedContainer, SoftwareEnvironment } from '../core/pipeline/workload-fields.js'
import type { ScriptValueChecks } from './script-values.js'
import { quoteShellWord } from './shell-quote.js'

// `module` is a shell function that login shells define; a batch shell may not have it (sbatch
// passes exported functions along, qsub does not), so the usual init files are tried before failing
const MODULE_INIT = [
  'if ! type module >/dev/null 2>&1; then',
  '  for rpo_module_init in /etc/profile.d/lmod.sh /etc/profile.d/modules.sh "${LMOD_PKG:-/nonexistent}/init/bash" "${MODULESHOME:-/nonexistent}/init/bash"; do',
  '    if [ -r "$rpo_module_init" ]; then . "$rpo_module_init"; break; fi',
  '  done',
  'fi',
  'if ! type module >/dev/null 2>&1; then',
  '  echo "rpo: the task lists environment modules, but the \'module\' command is not available on $(hostname) (no Lmod or Environment Modules init found)" >&2',
  '  exit 1',
  'fi',
]

/** `~/x` becomes `"$HOME"/x` so that a home-relative path keeps working once quoted. */
function quotePath(path: string): string {
  if (path === '~') return '"$HOME"'
  if (path.startsWith('~/')) return `"$HOME"/${quoteShellWord(path.slice(2))}`
  return quoteShellWord(path)
}

/**
 * Lines that set up `environment` in the batch shell, in this order: `module load` of each module
 * (the job fails with a message naming the module when one does not load), conda activate or venv
 * activate, then the setup lines. No `module purge`: sites keep required modules loaded by default
 * (sticky modules, a StdEnv) that a purge would remove; a task that needs a clean slate writes
 * `module purge` and its loads as setup lines instead (docs/launching.md). Empty for no environment.
 */
export function buildEnvironmentSetup(environment: SoftwareEnvironment | null, checks: ScriptValueChecks): string[] {
  if (environment === null) return []
  const lines: string[] = []
  if (environment.modules.length > 0) {
    lines.push('# software environment: modules', ...MODULE_INIT)
    for (const name of environment.modules) {
      const quoted = quoteShellWord(checks.noNul('environment module', name))
      lines.push(`module load ${quoted} || { echo ${quoteShellWord(`rpo: module load ${name} failed`)} >&2; exit 1; }`)
    }
  }
  if (environment.conda !== null) {
    const name = checks.noNul('conda environment', environment.conda)
    const failed = quoteShellWord(`rpo: conda activate ${name} failed`)
    lines.push(
      '# software environment: conda',
      'rpo_conda_base=$("${CONDA_EXE:-conda}" info --base 2>/dev/null) || { echo "rpo: the task asks for a conda environment, but conda is not on PATH (load its module first)" >&2; exit 1; }',
      '. "$rpo_conda_base/etc/profile.d/conda.sh" || exit 1',
      `conda activate ${quotePath(name)} || { echo ${failed} >&2; exit 1; }`,
    )
  }
  if (environment.venv !== null) {
    const venv = checks.noNul('venv', environment.venv).replace(/\/+$/, '')
    const activate = `${quotePath(venv)}/bin/activate`
    lines.push(
      '# software environment: Python virtual environment',
      `[ -r ${activate} ] || { echo ${quoteShellWord(`rpo: no Python virtual environment at ${venv} (${venv}/bin/activate is missing)`)} >&2; exit 1; }`,
      `. ${activate}`,
    )
  }
  if (environment.setup.length > 0) {
    lines.push("# software environment: the task's setup lines")
    for (const line of environment.setup) lines.push(checks.noNul('environment setup line', line))
  }
  return lines
}

export interface ContainerContext {
  /** GPUs per node: apptainer/singularity get `--nv`, docker `--gpus all`, podman the CDI device. */
  readonly gpus: number
  /** Variables docker/podman must carry into the container (apptainer passes the environment itself). */
  readonly passEnv: readonly string[]
}

/**
 * The words (already quoted) that run a program inside `container`, to be followed by the program:
 * `apptainer exec [--nv] [--bind B]… [options…] IMAGE`, or `docker run --rm --network=host
 * -v "$PWD":"$PWD" -w "$PWD" --user UID:GID [-v B]… [-e NAME]… [options…] IMAGE`. Empty for none.
 */
export function containerWords(
  container: ResolvedContainer | null,
  context: ContainerContext,
  checks: ScriptValueChecks,
): string[] {
  if (container === null) return []
  const image = quoteShellWord(checks.noNul('container image', container.image))
  const binds = container.bind.map((bind) => checks.noNul('container bind', bind))
  const options = container.options.map((option) => quoteShellWord(checks.noNul('container option', option)))
  if (container.runtime === 'apptainer' || container.runtime === 'singularity') {
    const gpu = context.gpus > 0 && !container.options.includes('--nv') ? ['--nv'] : []
    return [
      container.runtime,
      'exec',
      ...gpu,
      ...binds.flatMap((bind) => ['--bind', quoteShellWord(bind)]),
      ...options,
      image,
    ]
  }
  const gpu =
    context.gpus === 0 ? [] : container.runtime === 'docker' ? ['--gpus', 'all'] : ['--device', 'nvidia.com/gpu=all']
  return [
    container.runtime,
    'run',
    '--rm',
    // ranks of one job talk to each other over the hosts' addresses
    '--network=host',
    '-v',
    '"$PWD":"$PWD"',
    '-w',
    '"$PWD"',
    '--user',
    '"$(id -u):$(id -g)"',
    ...gpu,
    ...binds.flatMap((bind) => ['-v', quoteShellWord(bind)]),
    ...[...new Set(context.passEnv)].flatMap((name) => ['-e', quoteShellWord(name)]),
    ...options,
    image,
  ]
}
