/**
 * Rendered batch scripts run end to end with bash against the stub launchers in ./stubs (srun,
 * scontrol, mpirun, torchrun, ray, module, conda, apptainer, docker) and a fake allocation: each
 * test asserts what the launchers and the trainer processes were given — ranks, rendezvous,
 * TF_CONFIG, the order of the environment set-up — and that a checkpoint signal sent to the batch
 * shell reaches every trainer through the launcher. Real launchers run on the testbed (launch-live).
 */
import { describe, expect, it } from 'vitest'
import { callsOf, environment, pbsScript, runScript, slurmScript, TRAINER } from './launch-fixtures.js'

const SLURM_ALLOCATION = { SLURM_JOB_NODELIST: 'gpu1,gpu2', SLURM_JOB_ID: '4242', SLURM_NNODES: '2' }
// 15000 + 4242 % 15000
const SLURM_PORT = '19242'

describe('pytorch-ddp through torchrun', () => {
  it('Slurm, 2 nodes x 2 GPUs: one torchrun per node with the allocation, 4 ranks, and SIGUSR1 to the batch shell reaches every trainer', async () => {
    const script = slurmScript({ framework: 'pytorch-ddp', nodes: 2, gpus: 2, cpus: 8, signal: 'USR1' })
    const run = await runScript(script, { env: SLURM_ALLOCATION, signal: { name: 'SIGUSR1', readyRanks: 4 } })

    const [srun] = callsOf(run, 'srun')
    expect(srun?.argv.slice(0, 5)).toEqual([
      '--nodes=2',
      '--ntasks=2',
      '--ntasks-per-node=1',
      '--cpus-per-task=8',
      '--kill-on-bad-exit=1',
    ])
    const torchruns = callsOf(run, 'torchrun')
    expect(torchruns.map((call) => call.env.RPO_NODE_RANK).sort()).toEqual(['0', '1'])
    for (const call of torchruns) {
      expect(call.argv).toEqual([
        '--nnodes=2',
        '--nproc_per_node=2',
        `--node_rank=${call.env.RPO_NODE_RANK}`,
        '--master_addr=gpu1',
        `--master_port=${SLURM_PORT}`,
        '--max_restarts=0',
        '--no_python',
        '/bin/bash',
        '-c',
        `python3 ${TRAINER} --epochs 2`,
      ])
    }
    const trainers = callsOf(run, 'trainer')
    expect(trainers.map((t) => t.env.RANK).sort()).toEqual(['0', '1', '2', '3'])
    expect(trainers.every((t) => t.env.WORLD_SIZE === '4' && t.env.MASTER_ADDR === 'gpu1')).toBe(true)
    expect(trainers[0]?.argv).toEqual(['--epochs', '2'])
    // every trainer got the signal and checkpointed; torchrun lived on (it ignores the signal) and
    // ended as torchrun does when a worker exits non-zero
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(['SIGUSR1', 'SIGUSR1', 'SIGUSR1', 'SIGUSR1'])
    expect(callsOf(run, 'trainer-timeout')).toEqual([])
    expect(run.signal).toBeNull()
    expect(run.status).toBe(1)
  }, 90_000)

  it('PBS, 2 nodes: one mpirun rank per host runs torchrun, and the signal reaches the trainers through the node relay', async () => {
    const script = pbsScript({ framework: 'pytorch-ddp', nodes: 2, cpus: 4, signal: 'USR2' })
    const run = await runScript(script, {
      env: { PBS_JOBID: '777.pbs-server' },
      pbsNodefile: ['cpu1', 'cpu1', 'cpu1', 'cpu1', 'cpu2', 'cpu2', 'cpu2', 'cpu2'],
      signal: { name: 'SIGUSR2', readyRanks: 2 },
    })
    const [mpirun] = callsOf(run, 'mpirun')
    expect(mpirun?.argv.slice(0, 6)).toEqual(['-np', '2', '--host', 'cpu1,cpu2', '--map-by', 'ppr:1:node'])
    const torchruns = callsOf(run, 'torchrun')
    expect(torchruns.map((call) => call.argv.slice(0, 5)).sort()).toEqual([
      ['--nnodes=2', '--nproc_per_node=1', '--node_rank=0', '--master_addr=cpu1', '--master_port=15777'],
      ['--nnodes=2', '--nproc_per_node=1', '--node_rank=1', '--master_addr=cpu1', '--master_port=15777'],
    ])
    expect(
      callsOf(run, 'trainer')
        .map((t) => t.env.RANK)
        .sort(),
    ).toEqual(['0', '1'])
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(['SIGUSR2', 'SIGUSR2'])
    expect(run.status).toBe(1)
  }, 90_000)

  it('without a launcher the batch shell execs the command, which gets the signal itself', async () => {
    const run = await runScript(slurmScript({ framework: 'pytorch', signal: 'USR1' }), {
      env: SLURM_ALLOCATION,
      signal: { name: 'SIGUSR1', readyRanks: 1 },
    })
    expect(callsOf(run, 'srun')).toEqual([])
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(['SIGUSR1'])
    expect(run.status).toBe(85)
  }, 60_000)
})

describe('MPI and Horovod ranks', () => {
  it('Slurm mpi: srun --mpi=pmix starts one rank per CPU on each node', async () => {
    const run = await runScript(slurmScript({ framework: 'mpi', nodes: 2, cpus: 2 }), { env: SLURM_ALLOCATION })
    const [srun] = callsOf(run, 'srun')
    expect(srun?.argv.slice(0, 5)).toEqual([
      '--mpi=pmix',
      '--nodes=2',
      '--ntasks-per-node=2',
      '--cpus-per-task=1',
      '--kill-on-bad-exit=1',
    ])
    expect(
      callsOf(run, 'trainer')
        .map((t) => `${t.env.SLURM_NODEID}/${t.env.SLURM_PROCID}`)
        .sort(),
    ).toEqual(['0/0', '0/1', '1/2', '1/3'])
    expect(run.status).toBe(0)
  }, 60_000)

  it('PBS horovod: mpirun starts one rank per GPU on every host, passing the job variables', async () => {
    const run = await runScript(pbsScript({ framework: 'horovod', nodes: 2, gpus: 2, cpus: 8 }), {
      env: { PBS_JOBID: '12.srv' },
      pbsNodefile: ['gpu1', 'gpu2'],
    })
    const [mpirun] = callsOf(run, 'mpirun')
    expect(mpirun?.argv.slice(0, 6)).toEqual(['-np', '4', '--host', 'gpu1:2,gpu2:2', '--map-by', 'ppr:2:node'])
    expect(mpirun?.argv).toContain('RPO_RUN_ID')
    const ranks = callsOf(run, 'trainer')
    expect(ranks.map((t) => t.env.OMPI_COMM_WORLD_RANK).sort()).toEqual(['0', '1', '2', '3'])
    expect(ranks.every((t) => t.env.RPO_RUN_ID === 'r1')).toBe(true)
    expect(run.status).toBe(0)
  }, 60_000)
})

describe('TensorFlow, JAX and Ray', () => {
  it('TensorFlow multi-worker: each node gets TF_CONFIG with every worker and its own index', async () => {
    const run = await runScript(slurmScript({ framework: 'tensorflow', nodes: 2 }), { env: SLURM_ALLOCATION })
    const configs = callsOf(run, 'trainer').map((t) => JSON.parse(t.env.TF_CONFIG ?? 'null'))
    expect(configs.sort((a, b) => a.task.index - b.task.index)).toEqual(
      [0, 1].map((index) => ({
        cluster: { worker: [`gpu1:${SLURM_PORT}`, `gpu2:${SLURM_PORT}`] },
        task: { type: 'worker', index },
      })),
    )
    expect(run.status).toBe(0)
  }, 60_000)

  it('JAX: one process per node with the coordinator on the first host', async () => {
    const run = await runScript(pbsScript({ framework: 'jax', nodes: 2 }), {
      env: { PBS_JOBID: '31.srv' },
      pbsNodefile: ['a100-1', 'a100-2'],
    })
    const processes = callsOf(run, 'trainer').map((t) => [
      t.env.JAX_COORDINATOR_ADDRESS,
      t.env.JAX_NUM_PROCESSES,
      t.env.JAX_PROCESS_ID,
    ])
    expect(processes.sort()).toEqual([
      ['a100-1:15031', '2', '0'],
      ['a100-1:15031', '2', '1'],
    ])
  }, 60_000)

  it('Ray: the head on the first node, a worker on the other, the driver once both joined, then the cluster stops', async () => {
    const run = await runScript(slurmScript({ framework: 'ray', nodes: 2, gpus: 1, cpus: 4 }), {
      env: SLURM_ALLOCATION,
    })
    const order = run.calls
      .filter((c) => c.name === 'trainer' || (c.name === 'ray' && c.argv[0] !== 'status'))
      .map((c) => (c.name === 'trainer' ? 'driver' : c.argv.slice(0, 2).join(' ')))
    expect(order.slice(0, 2).sort()).toEqual(['start --address=gpu1:19242', 'start --head'])
    expect(order.slice(2)).toEqual(['driver', 'stop'])
    const [head, workers] = callsOf(run, 'srun')
    expect(head?.argv).toContain('-w')
    expect(head?.argv).toContain('gpu1')
    expect(workers?.argv).toContain('--exclude=gpu1')
    expect(callsOf(run, 'trainer')[0]?.env.RAY_ADDRESS).toBe(`gpu1:${SLURM_PORT}`)
    expect(run.status).toBe(0)
  }, 90_000)
})

describe('software environment', () => {
  it('loads modules in order, then activates conda, then runs the setup lines, then the command inside apptainer with its binds', async () => {
    const env = environment({
      modules: ['gcc/12.2', 'cuda/12.1'],
      conda: 'torch-2.3',
      setup: ['stub-mark setup "$CONDA_PREFIX"'],
      container: { image: '/images/torch.sif', runtime: 'apptainer', bind: ['/data', '/scratch:/s'], options: [] },
    })
    const run = await runScript(slurmScript({ gpus: 1, environment: env }), { env: SLURM_ALLOCATION, conda: true })
    const steps = run.calls.map((c) => `${c.name} ${c.argv.slice(0, 2).join(' ')}`.trim())
    expect(steps).toEqual([
      'module load gcc/12.2',
      'module load cuda/12.1',
      'conda info --base',
      'conda-function activate torch-2.3',
      `mark setup ${run.state}/envs/torch-2.3`,
      'apptainer exec --nv',
      `trainer --epochs 2`,
    ])
    expect(callsOf(run, 'apptainer')[0]?.argv).toEqual([
      'exec',
      '--nv',
      '--bind',
      '/data',
      '--bind',
      '/scratch:/s',
      '/images/torch.sif',
      '/bin/bash',
      '-c',
      `python3 ${TRAINER} --epochs 2`,
    ])
    const [trainer] = callsOf(run, 'trainer')
    expect(trainer?.env.STUB_IN_CONTAINER).toBe('1')
    expect(trainer?.env.CONDA_PREFIX).toBe(`${run.state}/envs/torch-2.3`)
    expect(run.status).toBe(0)
  }, 60_000)

  it('a module that does not load fails the job before the command, naming the module', async () => {
    const run = await runScript(pbsScript({ environment: environment({ modules: ['missing/1.0', 'cuda/12.1'] }) }), {
      env: { PBS_JOBID: '5.srv' },
    })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('rpo: module load missing/1.0 failed')
    expect(callsOf(run, 'module').map((c) => c.argv.join(' '))).toEqual(['load missing/1.0'])
    expect(callsOf(run, 'trainer')).toEqual([])
  }, 60_000)

  it('no module command at all fails the job with a message saying so', async () => {
    const script = slurmScript({ environment: environment({ modules: ['cuda/12.1'] }) })
    // PATH without the stubs: `module` is nowhere (the init files this host may have are not Lmod's)
    const run = await runScript(script.replaceAll('type module', 'type rpo_no_such_module'), { env: SLURM_ALLOCATION })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("the 'module' command is not available")
  }, 60_000)

  it('a venv that is not there fails the job with its path', async () => {
    const run = await runScript(slurmScript({ environment: environment({ venv: '~/venvs/none' }) }), {
      env: SLURM_ALLOCATION,
    })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('rpo: no Python virtual environment at ~/venvs/none')
  }, 60_000)

  it('docker: the container sees the job variables and each node its rank, and mpirun starts the nodes (PBS)', async () => {
    const env = environment({
      container: {
        image: 'nvcr.io/nvidia/pytorch:24.05-py3',
        runtime: 'docker',
        bind: ['/data:/data:ro'],
        options: [],
      },
    })
    const run = await runScript(pbsScript({ framework: 'tensorflow', nodes: 2, environment: env }), {
      env: { PBS_JOBID: '8.srv' },
      pbsNodefile: ['n1', 'n2'],
    })
    const [docker] = callsOf(run, 'docker')
    expect(docker?.argv.slice(0, 3)).toEqual(['run', '--rm', '--network=host'])
    expect(docker?.argv.join(' ')).toContain('-v /data:/data:ro')
    const trainers = callsOf(run, 'trainer')
    expect(
      trainers
        .map((t) => [t.env.RPO_RUN_ID, t.env.STUB_IN_CONTAINER, JSON.parse(t.env.TF_CONFIG ?? '{}').task?.index])
        .sort(),
    ).toEqual([
      ['r1', '1', 0],
      ['r1', '1', 1],
    ])
    expect(run.status).toBe(0)
  }, 60_000)
})
