/**
 * How a batch script finds its allocation and starts programs across it, per scheduler: the host
 * list (Slurm: `scontrol show hostnames "$SLURM_JOB_NODELIST"`; PBS: the unique hosts of
 * `$PBS_NODEFILE`, in order), the rendezvous address (the first host) and port, and the step that
 * starts one program per node or per rank (`srun` / OpenMPI's `mpirun`). Pure: shell text out.
 */

export type BatchScheduler = 'slurm' | 'pbs'

/** The variables the host lines export, which every launcher and container may use. */
export const ALLOCATION_VARIABLES = ['RPO_NNODES', 'RPO_HOSTS', 'RPO_MASTER_ADDR', 'RPO_MASTER_PORT'] as const

/** Per-process variables the schedulers and launchers set, which a container must see too. */
export const RANK_VARIABLES = [
  'RPO_NODE_RANK',
  'SLURM_JOB_ID',
  'SLURM_JOB_NODELIST',
  'SLURM_NNODES',
  'SLURM_NODEID',
  'SLURM_PROCID',
  'SLURM_LOCALID',
  'SLURM_NTASKS',
  'PBS_JOBID',
  'PBS_NODEFILE',
  'OMPI_COMM_WORLD_RANK',
  'OMPI_COMM_WORLD_SIZE',
  'OMPI_COMM_WORLD_LOCAL_RANK',
] as const

// ports 15000–29999: below Linux's ephemeral range (32768–60999), so a port the kernel handed to
// some client is unlikely; derived from the job id so that two jobs sharing a node start from
// different ones, and the task may set RPO_MASTER_PORT itself to override it
const PORT_BASE = 15000
const PORT_SPAN = 15000
/** How many ports from the derived one the batch script tries before it gives up. */
const PORT_TRIES = 32

/**
 * Lines that set RPO_MASTER_PORT, unless the task's env did: from the port derived from
 * `jobNumber` (shell arithmetic) on, the first on which nothing listens on this host — the batch
 * shell runs on the first host of the allocation, where the rendezvous (torchrun's store, the Ray
 * head, the JAX coordinator) listens. A listener's port is taken when anything listens on it on
 * any address, since the launchers bind every address: the kernel's socket tables
 * (/proc/net/tcp, tcp6) show every such listener; without them, a port is taken when a connection
 * to it on 127.0.0.1 or on the host's name is accepted (within a second). The job fails with a
 * message when PORT_TRIES ports in a row are taken. The port can still be bound by another
 * process before the launcher binds it (docs/launching.md).
 */
function portLines(jobNumber: string): string[] {
  return [
    `# the rendezvous port, unless the task chose one: from ${PORT_BASE} + job % ${PORT_SPAN} on, the first`,
    '# on which nothing listens on this host (the first of the allocation, where the rendezvous listens)',
    'if [ -z "${RPO_MASTER_PORT:-}" ]; then',
    '  rpo_listening=()',
    '  for rpo_table in /proc/net/tcp /proc/net/tcp6; do',
    '    [ -r "$rpo_table" ] || continue',
    '    # sl, local address HEX:PORT, remote address, state (0A: LISTEN), …',
    '    while read -r rpo_sl rpo_local rpo_remote rpo_state rpo_rest; do',
    '      if [ "$rpo_state" = 0A ]; then rpo_listening[16#${rpo_local##*:}]=1; fi',
    '    done <"$rpo_table"',
    '  done',
    '  rpo_port_taken() {',
    '    if [ -r /proc/net/tcp ]; then [ -n "${rpo_listening[$1]:-}" ]; return; fi',
    '    local rpo_host',
    '    for rpo_host in 127.0.0.1 "$RPO_MASTER_ADDR"; do',
    '      if command -v timeout >/dev/null 2>&1; then',
    `        timeout 1 "$BASH" -c ': <"/dev/tcp/$0/$1"' "$rpo_host" "$1" 2>/dev/null && return 0`,
    '      else',
    '        (: <"/dev/tcp/$rpo_host/$1") 2>/dev/null && return 0',
    '      fi',
    '    done',
    '    return 1',
    '  }',
    `  rpo_port_offset=$((${jobNumber} % ${PORT_SPAN}))`,
    `  for ((rpo_try = 0; rpo_try < ${PORT_TRIES}; rpo_try++)); do`,
    `    RPO_MASTER_PORT=$((${PORT_BASE} + (rpo_port_offset + rpo_try) % ${PORT_SPAN}))`,
    '    rpo_port_taken "$RPO_MASTER_PORT" || break',
    '  done',
    `  if [ "$rpo_try" -ge ${PORT_TRIES} ]; then`,
    `    echo "rpo: no free port for the rendezvous on \${HOSTNAME:-the first host}: something listens on each of the ${PORT_TRIES} ports from $((${PORT_BASE} + rpo_port_offset)) on; set RPO_MASTER_PORT in the task's env to choose one" >&2`,
    '    exit 1',
    '  fi',
    'fi',
    'export RPO_MASTER_PORT',
  ]
}

/**
 * Lines that set `rpo_hosts` (a bash array) and export RPO_NNODES, RPO_HOSTS (comma-separated),
 * RPO_MASTER_ADDR (the first host) and RPO_MASTER_PORT (a port free there, see portLines); the job
 * fails with a message when the allocation cannot be listed or no port is free.
 */
export function allocationLines(scheduler: BatchScheduler): string[] {
  const listing =
    scheduler === 'slurm'
      ? [
          'mapfile -t rpo_hosts < <(scontrol show hostnames "${SLURM_JOB_NODELIST:-}")',
          'if [ "${#rpo_hosts[@]}" -eq 0 ]; then',
          '  echo "rpo: cannot list the job\'s nodes: scontrol show hostnames \\"${SLURM_JOB_NODELIST:-}\\" printed nothing" >&2',
          '  exit 1',
          'fi',
        ]
      : [
          'mapfile -t rpo_hosts < <(awk \'NF && !seen[$1]++ { print $1 }\' "${PBS_NODEFILE:-/nonexistent}")',
          'if [ "${#rpo_hosts[@]}" -eq 0 ]; then',
          '  echo "rpo: cannot list the job\'s nodes: PBS_NODEFILE (${PBS_NODEFILE:-unset}) is missing or empty" >&2',
          '  exit 1',
          'fi',
          // PBS_JOBID is 1234.server or 1234[5].server: its leading digits, plus the array index
          'rpo_job_number=${PBS_JOBID:-0}; rpo_job_number=${rpo_job_number%%[!0-9]*}',
          'rpo_job_number=$((10#${rpo_job_number:-0} + ${PBS_ARRAY_INDEX:-${PBS_ARRAYID:-0}}))',
        ]
  return [
    '# the allocation: its hosts, the first one hosts the rendezvous',
    ...listing,
    'export RPO_NNODES=${#rpo_hosts[@]}',
    'export RPO_HOSTS; RPO_HOSTS=$(IFS=,; printf \'%s\' "${rpo_hosts[*]}")',
    'export RPO_MASTER_ADDR=${rpo_hosts[0]}',
    ...portLines(scheduler === 'slurm' ? '${SLURM_JOB_ID:-0}' : 'rpo_job_number'),
  ]
}

/** The node's index in the allocation, as a program started by `perNodeStep` sees it. */
export function nodeRankExport(scheduler: BatchScheduler): string {
  return scheduler === 'slurm'
    ? 'export RPO_NODE_RANK=${SLURM_NODEID:-0}'
    : 'export RPO_NODE_RANK=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}'
}

export interface StepOptions {
  readonly cpusPerTask: number
  /** OpenMPI `-x NAME` for each (mpirun carries no environment by itself). */
  readonly passEnv: readonly string[]
  /** Slurm's MPI plugin for rank steps (`srun --mpi=`). */
  readonly slurmMpi: string
}

/** OpenMPI's `-x NAME` words: the job's variables and those an environment set-up changes. */
export function mpirunEnv(passEnv: readonly string[]): string[] {
  return [...new Set(['PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH', 'VIRTUAL_ENV', 'CONDA_PREFIX', ...passEnv])].flatMap(
    (name) => ['-x', name],
  )
}

/**
 * The step that runs `program` (shell text, already quoted) once on every node of the allocation.
 * Slurm: `srun --ntasks-per-node=1`; PBS: one `mpirun` rank per host, or the program itself when
 * the job has one node (PBS starts the batch shell there).
 */
export function perNodeStep(scheduler: BatchScheduler, nodes: number, options: StepOptions, program: string): string {
  if (scheduler === 'slurm') {
    return [
      'srun',
      '--nodes="$RPO_NNODES"',
      '--ntasks="$RPO_NNODES"',
      '--ntasks-per-node=1',
      `--cpus-per-task=${options.cpusPerTask}`,
      '--kill-on-bad-exit=1',
      program,
    ].join(' ')
  }
  if (nodes === 1) return program
  return [
    'mpirun',
    '-np',
    '"$RPO_NNODES"',
    '--host',
    '"$RPO_HOSTS"',
    '--map-by',
    'ppr:1:node',
    ...mpirunEnv(options.passEnv),
    program,
  ].join(' ')
}

/** The step that runs `program` as `ranksPerNode` MPI ranks on every node (`srun --mpi` / `mpirun`). */
export function perRankStep(
  scheduler: BatchScheduler,
  ranksPerNode: number,
  options: StepOptions,
  program: string,
): string {
  if (scheduler === 'slurm') {
    return [
      'srun',
      // the task's env may name another plugin (RPO_SLURM_MPI), e.g. pmi2 where pmix is missing
      `--mpi="\${RPO_SLURM_MPI:-${options.slurmMpi}}"`,
      '--nodes="$RPO_NNODES"',
      `--ntasks-per-node=${ranksPerNode}`,
      `--cpus-per-task=${options.cpusPerTask}`,
      '--kill-on-bad-exit=1',
      program,
    ].join(' ')
  }
  return [
    'mpirun',
    '-np',
    `"$((RPO_NNODES * ${ranksPerNode}))"`,
    '--host',
    `"$(printf '%s:${ranksPerNode},' "\${rpo_hosts[@]}" | sed 's/,$//')"`,
    '--map-by',
    `ppr:${ranksPerNode}:node`,
    ...mpirunEnv(options.passEnv),
    program,
  ].join(' ')
}
