/**
 * Rendered batch scripts run end to end with bash against the stub launchers in ./stubs (srun,
 * scontrol, mpirun, torchrun, ray, module, conda, apptainer, docker) and a fake allocation: each
 * test asserts what the launchers and the trainer processes were given — ranks, rendezvous,
 * TF_CONFIG, the order of the environment set-up — and that a checkpoint signal sent to the batch
 * shell reaches every trainer through the launcher, and that the rendezvous port the launchers get
 * is one nothing listens on. Real launchers run on the testbed (launch-live).
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import {
  callsOf,
  environment,
  occupyPorts,
  pbsScript,
  type RunOptions,
  runScript,
  type ScriptRun,
  slurmScript,
  TRAINER,
} from './launch-fixtures.js'

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
        '/bin/bash -c "$1"; rpo_s=$?; [ "$rpo_s" -ne 85 ] || : >"$RPO_CHECKPOINT_MARK"; exit "$rpo_s"',
        'rpo-rank',
        `python3 ${TRAINER} --epochs 2`,
      ])
    }
    const trainers = callsOf(run, 'trainer')
    expect(trainers.map((t) => t.env.RANK).sort()).toEqual(['0', '1', '2', '3'])
    expect(trainers.every((t) => t.env.WORLD_SIZE === '4' && t.env.MASTER_ADDR === 'gpu1')).toBe(true)
    expect(trainers[0]?.argv).toEqual(['--epochs', '2'])
    // every trainer got the signal and checkpointed; torchrun lived on (it ignores the signal), and
    // although torchrun ends with 1 when a worker exits non-zero, the job ends with the checkpoint's 85
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(['SIGUSR1', 'SIGUSR1', 'SIGUSR1', 'SIGUSR1'])
    expect(callsOf(run, 'trainer-timeout')).toEqual([])
    expect(run.signal).toBeNull()
    expect(run.status).toBe(85)
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
    expect(run.status).toBe(85)
  }, 90_000)

  it('with the real torchrun (Debian torch 1.13): 2 nodes on this host, the signal reaches both workers, torchrun lives on, the job ends with 85', async () => {
    // Debian's torch 1.13 on Python 3.11 cannot parse torchrun's default --redirects/--tee of 0
    // (IntFlag iteration skips NONE), so the task passes working ones, as docs/launching.md says
    const torchrunArgs = '--redirects=1 --tee=1 --log_dir=torchrun-logs'
    const script = slurmScript({
      framework: 'pytorch-ddp',
      nodes: 2,
      cpus: 2,
      signal: 'USR1',
      env: { RPO_TORCHRUN_ARGS: torchrunArgs },
    })
    const run = await runScript(script, {
      env: { SLURM_JOB_NODELIST: 'localhost,localhost', SLURM_JOB_ID: '4243' },
      realPrograms: ['torchrun'],
      signal: { name: 'SIGUSR1', readyRanks: 2 },
    })
    const trainers = callsOf(run, 'trainer')
    expect(
      trainers.map((t) => `${t.env.RANK}/${t.env.WORLD_SIZE}@${t.env.MASTER_ADDR}:${t.env.MASTER_PORT}`).sort(),
    ).toEqual(['0/2@localhost:19243', '1/2@localhost:19243'])
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(['SIGUSR1', 'SIGUSR1'])
    expect(run.status, run.stderr).toBe(85)
  }, 120_000)

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

describe('deepspeed through torchrun', () => {
  it('Slurm, 3 nodes x 2 GPUs: a torchrun per node with nnodes/nproc/node rank and the rendezvous on the first host; SIGUSR2 reaches all 6 ranks', async () => {
    // each rank records the host srun started it on
    const command = `stub-mark host "$SLURMD_NODENAME" && python3 ${TRAINER} --epochs 2`
    const script = slurmScript({ framework: 'deepspeed', nodes: 3, gpus: 2, cpus: 4, signal: 'USR2', command })
    const run = await runScript(script, {
      env: { SLURM_JOB_NODELIST: 'gpu1,gpu2,gpu3', SLURM_JOB_ID: '4244', SLURM_NNODES: '3' },
      signal: { name: 'SIGUSR2', readyRanks: 6 },
    })
    expect(callsOf(run, 'srun').map((call) => call.argv.slice(0, 5))).toEqual([
      ['--nodes=3', '--ntasks=3', '--ntasks-per-node=1', '--cpus-per-task=4', '--kill-on-bad-exit=1'],
    ])
    const torchruns = callsOf(run, 'torchrun')
    expect(torchruns.map((call) => call.argv.slice(0, 7)).sort()).toEqual(
      [0, 1, 2].map((rank) => [
        '--nnodes=3',
        '--nproc_per_node=2',
        `--node_rank=${rank}`,
        '--master_addr=gpu1',
        '--master_port=19244',
        '--max_restarts=0',
        '--no_python',
      ]),
    )
    // the global rank, its host and the rendezvous each rank's init_distributed reads
    const ranks = callsOf(run, 'mark').map((mark) => [
      Number(mark.env.RANK),
      mark.argv[1],
      mark.env.LOCAL_RANK,
      mark.env.WORLD_SIZE,
      `${mark.env.MASTER_ADDR}:${mark.env.MASTER_PORT}`,
    ])
    expect(ranks.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
      [0, 1, 2, 3, 4, 5].map((rank) => [rank, `gpu${1 + Math.floor(rank / 2)}`, `${rank % 2}`, '6', 'gpu1:19244']),
    )
    // every trainer got the signal through torchrun, which ignores it and lives on; the
    // checkpoint exit comes back through the mark although torchrun reports 1
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(Array(6).fill('SIGUSR2'))
    expect(callsOf(run, 'trainer-timeout')).toEqual([])
    expect(run.status, run.stderr).toBe(85)
  }, 90_000)
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

  it("Slurm mpi: the task's RPO_SLURM_MPI picks another plugin", async () => {
    const script = slurmScript({ framework: 'mpi', nodes: 2, cpus: 1, env: { RPO_SLURM_MPI: 'pmi2' } })
    const run = await runScript(script, { env: SLURM_ALLOCATION })
    expect(callsOf(run, 'srun')[0]?.argv[0]).toBe('--mpi=pmi2')
    expect(callsOf(run, 'trainer')).toHaveLength(2)
  }, 60_000)

  it('Slurm horovod: srun --mpi starts one rank per GPU on each node, and SIGUSR1 reaches every rank', async () => {
    const command = `stub-mark host "$SLURMD_NODENAME" && python3 ${TRAINER} --epochs 2`
    const script = slurmScript({ framework: 'horovod', nodes: 2, gpus: 2, cpus: 8, signal: 'USR1', command })
    const run = await runScript(script, { env: SLURM_ALLOCATION, signal: { name: 'SIGUSR1', readyRanks: 4 } })
    expect(callsOf(run, 'srun').map((call) => call.argv.slice(0, 5))).toEqual([
      ['--mpi=pmix', '--nodes=2', '--ntasks-per-node=2', '--cpus-per-task=4', '--kill-on-bad-exit=1'],
    ])
    expect(callsOf(run, 'torchrun')).toEqual([])
    const ranks = callsOf(run, 'mark').map(
      (mark) => `${mark.env.SLURM_PROCID}@${mark.argv[1]}/${mark.env.SLURM_NODEID}`,
    )
    expect(ranks.sort()).toEqual(['0@gpu1/0', '1@gpu1/0', '2@gpu2/1', '3@gpu2/1'])
    expect(callsOf(run, 'trainer').every((t) => t.env.RPO_RUN_ID === 'r1')).toBe(true)
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(Array(4).fill('SIGUSR1'))
    // srun ends with the highest rank status: the checkpoint's 85
    expect(run.status, run.stderr).toBe(85)
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

  it('Slurm JAX: one process per node, each with the coordinator on the first host, the process count and its own id', async () => {
    const command = `stub-mark host "$SLURMD_NODENAME" && python3 ${TRAINER}`
    const run = await runScript(slurmScript({ framework: 'jax', nodes: 3, gpus: 4, cpus: 8, command }), {
      env: { SLURM_JOB_NODELIST: 'gpu1,gpu2,gpu3', SLURM_JOB_ID: '4245', SLURM_NNODES: '3' },
    })
    expect(callsOf(run, 'srun').map((call) => call.argv.slice(0, 5))).toEqual([
      ['--nodes=3', '--ntasks=3', '--ntasks-per-node=1', '--cpus-per-task=8', '--kill-on-bad-exit=1'],
    ])
    const processes = callsOf(run, 'mark').map((mark) => [
      mark.argv[1],
      mark.env.JAX_COORDINATOR_ADDRESS,
      mark.env.JAX_NUM_PROCESSES,
      mark.env.JAX_PROCESS_ID,
    ])
    // process 0, which hosts the coordinator, runs on the coordinator's host
    expect(processes.sort()).toEqual([
      ['gpu1', 'gpu1:19245', '3', '0'],
      ['gpu2', 'gpu1:19245', '3', '1'],
      ['gpu3', 'gpu1:19245', '3', '2'],
    ])
    expect(callsOf(run, 'trainer')).toHaveLength(3)
    expect(run.status, run.stderr).toBe(0)
  }, 60_000)

  it('PBS Ray: the head in the batch shell on the first host of PBS_NODEFILE, mpirun workers on the others, the driver once all joined and with the signal, then the cluster stops', async () => {
    const run = await runScript(pbsScript({ framework: 'ray', nodes: 3, gpus: 1, cpus: 2, signal: 'USR1' }), {
      env: { PBS_JOBID: '46.pbs-server' },
      pbsNodefile: ['n1', 'n1', 'n2', 'n2', 'n3', 'n3'],
      signal: { name: 'SIGUSR1', readyRanks: 1 },
    })
    const address = 'n1:15046'
    const starts = callsOf(run, 'ray').filter((call) => call.argv[0] === 'start')
    const [head, ...others] = [...starts].sort(
      (a, b) => Number(b.argv.includes('--head')) - Number(a.argv.includes('--head')),
    )
    // the head: not through mpirun (PBS runs the batch shell on the first host), on n1's address
    expect(head?.argv).toEqual([
      'start',
      '--head',
      '--node-ip-address=n1',
      '--port=15046',
      '--block',
      '--num-cpus=2',
      '--num-gpus=1',
    ])
    expect(head?.env.OMPI_COMM_WORLD_RANK).toBe('')
    // one worker on each other host, joining the head
    const [mpirun, ...moreMpiruns] = callsOf(run, 'mpirun')
    expect(moreMpiruns).toEqual([])
    expect(mpirun?.argv.slice(0, 6)).toEqual(['-np', '2', '--host', 'n2,n3', '--map-by', 'ppr:1:node'])
    expect(mpirun?.argv.join(' ')).toContain('-x RAY_ADDRESS')
    expect(others.map((w) => [w.env.OMPI_COMM_WORLD_RANK, w.env.RAY_ADDRESS, ...w.argv]).sort()).toEqual(
      ['0', '1'].map((rank) => [
        rank,
        address,
        'start',
        `--address=${address}`,
        '--block',
        '--num-cpus=2',
        '--num-gpus=1',
      ]),
    )
    // the driver after all three joined (ray status polled first), the one trainer, with RAY_ADDRESS
    const order = run.calls
      .filter((c) => c.name === 'trainer' || c.name === 'ray')
      .map((c) => (c.name === 'trainer' ? 'driver' : c.argv[0]))
    const driverAt = order.indexOf('driver')
    expect(order.slice(0, driverAt).filter((step) => step === 'start')).toHaveLength(3)
    expect(order.slice(0, driverAt)).toContain('status')
    expect(order.slice(driverAt)).toEqual(['driver', 'stop'])
    const [driver, ...moreDrivers] = callsOf(run, 'trainer')
    expect(moreDrivers).toEqual([])
    expect(driver?.env.RAY_ADDRESS).toBe(address)
    expect(driver?.env.OMPI_COMM_WORLD_RANK).toBe('')
    // the batch shell passed the signal to the driver, whose checkpoint exit is the job's; the
    // run ending at all means the EXIT trap's `wait` saw the head and the mpirun workers end
    expect(callsOf(run, 'trainer-signal').map((t) => t.argv[0])).toEqual(['SIGUSR1'])
    expect(run.status, run.stderr).toBe(85)
  }, 90_000)

  it('Ray: the head on the first node, a worker on the other, the driver once both joined, then the cluster stops', async () => {
    const run = await runScript(slurmScript({ framework: 'ray', nodes: 2, gpus: 1, cpus: 4 }), {
      env: SLURM_ALLOCATION,
    })
    const order = run.calls
      .filter((c) => c.name === 'trainer' || (c.name === 'ray' && c.argv[0] !== 'status'))
      .map((c) => (c.name === 'trainer' ? 'driver' : c.argv.slice(0, 2).join(' ')))
    expect(order.slice(0, 2).sort()).toEqual(['start --address=gpu1:19242', 'start --head'])
    expect(order.slice(2)).toEqual(['driver', 'stop'])
    // the head and worker steps start concurrently: which srun logs first is not fixed
    const steps = callsOf(run, 'srun')
    expect(steps).toHaveLength(2)
    const head = steps.find((call) => call.argv.includes('-w'))
    const workers = steps.find((call) => call.argv.includes('--exclude=gpu1'))
    expect(head?.argv.slice(head.argv.indexOf('-w'), head.argv.indexOf('-w') + 2)).toEqual(['-w', 'gpu1'])
    expect(head?.argv.join(' ')).toContain('ray start --head')
    expect(workers?.argv.join(' ')).toContain('ray start --address=')
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

/** The port each framework's processes were given, as its stubs recorded it. */
const PORTS_GIVEN: Record<string, (run: ScriptRun) => string[]> = {
  'pytorch-ddp': (run) => [
    ...callsOf(run, 'torchrun').map(
      (call) => call.argv.find((a) => a.startsWith('--master_port='))?.split('=')[1] ?? '',
    ),
    ...callsOf(run, 'trainer').map((t) => t.env.MASTER_PORT ?? ''),
  ],
  tensorflow: (run) =>
    callsOf(run, 'trainer').flatMap((t) =>
      (JSON.parse(t.env.TF_CONFIG ?? '{}').cluster?.worker ?? ['none']).map((w: string) => w.split(':')[1]),
    ),
  jax: (run) => callsOf(run, 'trainer').map((t) => t.env.JAX_COORDINATOR_ADDRESS?.split(':')[1] ?? ''),
  ray: (run) => [
    ...callsOf(run, 'ray')
      .filter((call) => call.argv[0] === 'start')
      .map(
        (call) =>
          call.argv
            .find((a) => /^--(port|address)=/.test(a))
            ?.split(':')
            .at(-1)
            ?.split('=')
            .at(-1) ?? '',
      ),
    ...callsOf(run, 'trainer').map((t) => t.env.RAY_ADDRESS?.split(':')[1] ?? ''),
  ],
}

describe('a free rendezvous port', () => {
  const cases = [
    { framework: 'pytorch-ddp', scheduler: 'slurm' },
    { framework: 'pytorch-ddp', scheduler: 'pbs' },
    { framework: 'tensorflow', scheduler: 'slurm' },
    { framework: 'jax', scheduler: 'pbs' },
    { framework: 'ray', scheduler: 'slurm' },
  ] as const

  function render(
    framework: (typeof cases)[number]['framework'],
    scheduler: 'slurm' | 'pbs',
    job: number,
  ): { script: string; options: RunOptions } {
    const shape = { framework, nodes: 2, cpus: 2 }
    return scheduler === 'slurm'
      ? { script: slurmScript(shape), options: { env: { SLURM_JOB_NODELIST: 'gpu1,gpu2', SLURM_JOB_ID: String(job) } } }
      : { script: pbsScript(shape), options: { env: { PBS_JOBID: `${job}.srv` }, pbsNodefile: ['n1', 'n2'] } }
  }

  it.each(cases)(
    '$framework on $scheduler: something listens on the derived port, so every process gets the next one',
    async ({ framework, scheduler }) => {
      const taken = await occupyPorts(1)
      try {
        // the job whose derived port (15000 + job % 15000) is the one taken
        const { script, options } = render(framework, scheduler, taken.first - 15000)
        const run = await runScript(script, options)
        expect(run.status, run.stderr).toBe(0)
        const ports = PORTS_GIVEN[framework]?.(run) ?? []
        expect(ports.length).toBeGreaterThanOrEqual(2)
        expect(new Set(ports)).toEqual(new Set([String(taken.first + 1)]))
      } finally {
        await taken.close()
      }
    },
    60_000,
  )

  it('without the kernel socket tables, a connection that 127.0.0.1 accepts marks the port taken', async () => {
    const taken = await occupyPorts(2)
    try {
      const { script, options } = render('pytorch-ddp', 'slurm', taken.first - 15000)
      // as where /proc/net is not readable: the script falls back to connecting
      const run = await runScript(script.replaceAll('/proc/net/tcp', '/nonexistent/rpo-tcp'), options)
      expect(run.status, run.stderr).toBe(0)
      expect(PORTS_GIVEN['pytorch-ddp']?.(run)).toEqual(Array(4).fill(String(taken.first + 2)))
    } finally {
      await taken.close()
    }
  }, 60_000)

  it('when all 32 ports from the derived one are taken, the job fails before the launch, saying so', async () => {
    const taken = await occupyPorts(32)
    try {
      const { script, options } = render('jax', 'slurm', taken.first - 15000)
      const run = await runScript(script, options)
      expect(run.status).toBe(1)
      expect(run.stderr).toContain('rpo: no free port for the rendezvous on ')
      expect(run.stderr).toContain(`something listens on each of the 32 ports from ${taken.first} on`)
      expect(run.stderr).toContain("set RPO_MASTER_PORT in the task's env")
      expect(callsOf(run, 'srun')).toEqual([])
    } finally {
      await taken.close()
    }
  }, 60_000)

  it("a port the task set (RPO_MASTER_PORT in its env) is the task's choice, used as it is", async () => {
    const taken = await occupyPorts(1)
    try {
      const shape = {
        framework: 'pytorch-ddp',
        nodes: 2,
        cpus: 2,
        env: { RPO_MASTER_PORT: String(taken.first) },
      } as const
      const run = await runScript(slurmScript(shape), { env: SLURM_ALLOCATION })
      expect(PORTS_GIVEN['pytorch-ddp']?.(run)).toEqual(Array(4).fill(String(taken.first)))
    } finally {
      await taken.close()
    }
  }, 60_000)

  it('the port selection is valid bash (bash -n) in the Slurm and PBS scripts', () => {
    for (const script of [slurmScript({ framework: 'jax', nodes: 2 }), pbsScript({ framework: 'ray', nodes: 2 })]) {
      expect(script).toContain('rpo_port_taken "$RPO_MASTER_PORT" || break')
      const result = spawnSync('/bin/bash', ['-n'], { input: script, encoding: 'utf8' })
      expect(result.stderr).toBe('')
      expect(result.status).toBe(0)
    }
  })
})
