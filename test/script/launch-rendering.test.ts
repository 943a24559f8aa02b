/**
 * Pure rendering of launches and software environments into Slurm and PBS batch scripts: the
 * directives a launcher needs, the exact launch and environment lines, the refusals, and that every
 * combination of framework, scheduler, container and signal renders a script `bash -n` accepts.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { buildSbatchDirectives, slurmLaunchPlan } from '../../adapters/slurm/slurm-script.js'
import { RpoError } from '../../src/core/errors.js'
import { FRAMEWORKS, type ResolvedContainer } from '../../src/core/pipeline/workload-fields.js'
import { localTaskCommand } from '../../src/script/local-task-command.js'
import { scriptValueChecks } from '../../src/script/script-values.js'
import { buildEnvironmentSetup, containerWords } from '../../src/script/software-environment.js'
import { environment, type JobShape, launchJob, pbsScript, slurmScript } from './launch-fixtures.js'

const checks = scriptValueChecks('test script')

function directives(shape: JobShape): string[] {
  return buildSbatchDirectives(launchJob(shape)).filter((d) => /ntasks|cpus-per-task|--nodes/.test(d))
}

function container(overrides: Partial<ResolvedContainer>): ResolvedContainer {
  return { image: '/images/t.sif', runtime: 'apptainer', bind: [], options: [], ...overrides }
}

describe('Slurm directives follow the launch', () => {
  it('one task per node for per-node launchers, with all the node CPUs', () => {
    expect(directives({ framework: 'pytorch-ddp', nodes: 2, gpus: 4, cpus: 16 })).toEqual([
      '--nodes=2',
      '--ntasks-per-node=1',
      '--cpus-per-task=16',
    ])
    expect(directives({ framework: 'ray', nodes: 3, cpus: 8 })).toEqual([
      '--nodes=3',
      '--ntasks-per-node=1',
      '--cpus-per-task=8',
    ])
  })

  it('one rank per GPU (horovod, mpi) or per CPU (mpi without GPUs), the node CPUs split among them', () => {
    expect(directives({ framework: 'horovod', nodes: 2, gpus: 4, cpus: 16 })).toEqual([
      '--nodes=2',
      '--ntasks-per-node=4',
      '--cpus-per-task=4',
    ])
    expect(directives({ framework: 'mpi', nodes: 1, cpus: 6 })).toEqual(['--ntasks-per-node=6', '--cpus-per-task=1'])
    expect(directives({ framework: 'mpi', nodes: 2, gpus: 2, cpus: 7 })).toEqual([
      '--nodes=2',
      '--ntasks-per-node=2',
      '--cpus-per-task=3',
    ])
  })

  it('a plain command keeps the directives it always had', () => {
    expect(directives({ cpus: 4 })).toEqual(['--cpus-per-task=4'])
    expect(directives({ nodes: 2, cpus: 4 })).toEqual(['--nodes=2', '--ntasks-per-node=1', '--cpus-per-task=4'])
    expect(directives({ framework: 'tensorflow', cpus: 4 })).toEqual(['--cpus-per-task=4'])
  })

  it('refuses a single-process framework on several nodes, and more ranks than CPUs, saying what to do', () => {
    expect(() => slurmScript({ framework: 'pytorch', nodes: 2 })).toThrow(/pytorch runs one process.*use pytorch-ddp/)
    expect(() => slurmScript({ framework: 'horovod', gpus: 4, cpus: 2 })).toThrow(
      /4 ranks per node need at least 4 cpus per node, the task asks for 2/,
    )
    try {
      pbsScript({ framework: 'sklearn', nodes: 3 })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(RpoError)
      expect((error as RpoError).code).toBe('spec-invalid')
      expect((error as RpoError).message).toMatch(/^PBS script: framework sklearn/)
    }
  })
})

describe('launch lines', () => {
  it('torchrun per node through srun, rendezvous on the first host of the allocation', () => {
    const script = slurmScript({ framework: 'deepspeed', nodes: 2, gpus: 8, cpus: 32 })
    expect(script).toContain('mapfile -t rpo_hosts < <(scontrol show hostnames "${SLURM_JOB_NODELIST:-}")')
    expect(script).toContain('export RPO_MASTER_ADDR=${rpo_hosts[0]}')
    // the rendezvous port: derived from the job id, stepped on past ports something listens on
    expect(script).toContain('  rpo_port_offset=$((${SLURM_JOB_ID:-0} % 15000))')
    expect(script).toContain('    RPO_MASTER_PORT=$((15000 + (rpo_port_offset + rpo_try) % 15000))')
    expect(script).toContain('\nexport RPO_MASTER_PORT\n')
    expect(script).toContain(
      'srun --nodes="$RPO_NNODES" --ntasks="$RPO_NNODES" --ntasks-per-node=1 --cpus-per-task=32 --kill-on-bad-exit=1 /bin/bash -c \'export RPO_NODE_RANK=${SLURM_NODEID:-0}',
    )
    expect(script).toContain(
      'exec torchrun ${RPO_TORCHRUN_ARGS:-} --nnodes="$RPO_NNODES" --nproc_per_node=8 --node_rank="$RPO_NODE_RANK" --master_addr="$RPO_MASTER_ADDR" --master_port="$RPO_MASTER_PORT" --max_restarts=0 --no_python /bin/bash -c "$1"',
    )
    // no checkpoint signal: the launch runs in the foreground, nothing to forward
    expect(script).not.toContain('rpo_launcher')
    expect(script).not.toContain(`exec /bin/bash -c '${launchJob().command}'`)
  })

  it('with a checkpoint signal the batch shell forwards it to the launcher and exits with its status', () => {
    const script = slurmScript({ framework: 'mpi', nodes: 2, cpus: 2, signal: 'SIGUSR2' })
    const tail = script.slice(script.indexOf('srun --mpi')).split('\n')
    expect(tail).toEqual([
      'srun --mpi="${RPO_SLURM_MPI:-pmix}" --nodes="$RPO_NNODES" --ntasks-per-node=2 --cpus-per-task=1 --kill-on-bad-exit=1 /bin/bash -c \'python3 ' +
        `${launchJob().command.slice('python3 '.length)}' &`,
      'rpo_launcher=$!',
      `trap 'kill -s USR2 "$rpo_launcher" 2>/dev/null' USR2`,
      'while kill -0 "$rpo_launcher" 2>/dev/null; do wait "$rpo_launcher"; done',
      'wait "$rpo_launcher"; rpo_status=$?',
      'exit "$rpo_status"',
      '',
    ])
  })

  it('PBS lists the hosts of PBS_NODEFILE once each, in order, and starts per-node launchers with mpirun', () => {
    const script = pbsScript({ framework: 'pytorch-ddp', nodes: 2, gpus: 2 })
    expect(script).toContain(
      'mapfile -t rpo_hosts < <(awk \'NF && !seen[$1]++ { print $1 }\' "${PBS_NODEFILE:-/nonexistent}")',
    )
    expect(script).toMatch(
      /^mpirun -np "\$RPO_NNODES" --host "\$RPO_HOSTS" --map-by ppr:1:node -x PATH .* -x RPO_RUN_ID /m,
    )
    // the port derives from the job number and its array index
    expect(script).toContain('  rpo_port_offset=$((rpo_job_number % 15000))')
    // one node: PBS runs the batch shell there, so torchrun starts without mpirun
    expect(pbsScript({ framework: 'pytorch-ddp', nodes: 1 })).not.toContain('mpirun')
  })

  it("a plain command, or TensorFlow/JAX on one node, is exec'ed as it always was", () => {
    for (const shape of [
      {},
      { framework: 'tensorflow' },
      { framework: 'jax' },
      { framework: 'xgboost' },
    ] as JobShape[]) {
      const script = slurmScript(shape)
      expect(script.trimEnd().split('\n').at(-1)).toBe(`exec /bin/bash -c '${launchJob().command}'`)
    }
  })

  it("the Slurm MPI plugin is the cluster's choice", () => {
    const job = launchJob({ framework: 'mpi', cpus: 2 })
    expect(slurmLaunchPlan(job, { mpi: 'pmi2' }).lines.join('\n')).toContain('srun --mpi="${RPO_SLURM_MPI:-pmi2}" ')
    expect(() => slurmLaunchPlan(job, { mpi: 'pmi2; rm -rf /' })).toThrow(/Slurm MPI plugin must match/)
  })
})

describe('software environment lines', () => {
  it('modules in order, then conda, then the setup lines as written', () => {
    const lines = buildEnvironmentSetup(
      environment({ modules: ['gcc/12', 'cuda/12.1'], conda: 'my env', setup: ['export A=1 B="$HOME"'] }),
      checks,
    )
    const loads = lines.filter((line) => line.startsWith('module load'))
    expect(loads).toEqual([
      "module load gcc/12 || { echo 'rpo: module load gcc/12 failed' >&2; exit 1; }",
      "module load cuda/12.1 || { echo 'rpo: module load cuda/12.1 failed' >&2; exit 1; }",
    ])
    const at = (prefix: string) => lines.findIndex((line) => line.startsWith(prefix))
    expect(at('module load gcc')).toBeLessThan(at('rpo_conda_base='))
    expect(lines).toContain('. "$rpo_conda_base/etc/profile.d/conda.sh" || exit 1')
    expect(lines).toContain("conda activate 'my env' || { echo 'rpo: conda activate my env failed' >&2; exit 1; }")
    expect(lines.at(-1)).toBe('export A=1 B="$HOME"')
    expect(lines.some((line) => line.includes('module purge'))).toBe(false)
  })

  it('a venv under ~ keeps working once quoted', () => {
    const lines = buildEnvironmentSetup(environment({ venv: '~/venvs/my env/' }), checks)
    expect(lines).toContain('. "$HOME"/\'venvs/my env\'/bin/activate')
  })

  it('container runtimes: apptainer and singularity exec, docker and podman run, GPUs passed through', () => {
    const context = { gpus: 0, passEnv: ['RPO_RUN_ID'] }
    expect(containerWords(container({ bind: ['/data', '/odd dir:/x'] }), context, checks)).toEqual([
      'apptainer',
      'exec',
      '--bind',
      '/data',
      '--bind',
      "'/odd dir:/x'",
      '/images/t.sif',
    ])
    expect(
      containerWords(container({ runtime: 'singularity', options: ['--cleanenv'] }), { ...context, gpus: 2 }, checks),
    ).toEqual(['singularity', 'exec', '--nv', '--cleanenv', '/images/t.sif'])
    const docker = containerWords(
      container({ runtime: 'docker', image: 'pytorch/pytorch:2.3', bind: ['/d:/d'] }),
      { ...context, gpus: 1 },
      checks,
    )
    expect(docker.join(' ')).toBe(
      'docker run --rm --network=host -v "$PWD":"$PWD" -w "$PWD" --user "$(id -u):$(id -g)" --gpus all -v /d:/d -e RPO_RUN_ID pytorch/pytorch:2.3',
    )
    expect(containerWords(container({ runtime: 'podman' }), { ...context, gpus: 1 }, checks)).toContain(
      'nvidia.com/gpu=all',
    )
  })

  it('refuses a NUL byte in any environment value, naming it', () => {
    expect(() => buildEnvironmentSetup(environment({ setup: ['echo \0'] }), checks)).toThrow(
      /environment setup line contains a NUL byte/,
    )
    expect(() => buildEnvironmentSetup(environment({ modules: ['a\0'] }), checks)).toThrow(/environment module/)
  })
})

describe('the local executor', () => {
  it('runs the command behind its environment, and refuses frameworks that need a launcher', () => {
    expect(localTaskCommand(launchJob())).toBe(launchJob().command)
    const withEnv = localTaskCommand(launchJob({ environment: environment({ venv: '/opt/venv', setup: ['echo hi'] }) }))
    expect(withEnv.split('\n').at(-2)).toBe('echo hi')
    expect(withEnv.split('\n').at(-1)).toBe(`exec /bin/bash -c '${launchJob().command}'`)
    expect(withEnv).toContain('. /opt/venv/bin/activate')
    expect(() => localTaskCommand(launchJob({ framework: 'pytorch-ddp' }))).toThrow(/local executor does not have/)
    expect(localTaskCommand(launchJob({ framework: 'jax' }))).toBe(launchJob().command)
  })
})

describe('every rendered script is valid bash', () => {
  const containers: (ResolvedContainer | null)[] = [
    null,
    container({ bind: ['/data'] }),
    container({ runtime: 'docker', image: 'x/y:1' }),
  ]
  const cases = FRAMEWORKS.flatMap((framework) =>
    [1, 2].flatMap((nodes) =>
      containers.flatMap((c) => [undefined, 'USR1'].map((signal) => ({ framework, nodes, container: c, signal }))),
    ),
  ).filter((c) => !(['pytorch', 'sklearn', 'xgboost'].includes(c.framework) && c.nodes > 1))

  it(`bash -n accepts ${cases.length * 2} Slurm and PBS scripts`, () => {
    const scripts = cases.flatMap(({ framework, nodes, container: c, signal }) => {
      const shape: JobShape = {
        framework,
        nodes,
        gpus: 2,
        cpus: 8,
        environment: environment({ modules: ['cuda/12.1'], conda: 'base', setup: ['ulimit -n 4096'], container: c }),
        ...(signal ? { signal } : {}),
        command: `python train.py --name "it's" && echo $((1+1))`,
      }
      return [slurmScript(shape), pbsScript(shape)]
    })
    // one bash for all: each script is checked as a function body of its own, so an unbalanced quote in one fails the lot
    for (const [index, script] of scripts.entries()) {
      const result = spawnSync('/bin/bash', ['-n'], { input: script, encoding: 'utf8' })
      expect(result.stderr, `script ${index}:\n${script}`).toBe('')
      expect(result.status).toBe(0)
    }
  })
})
