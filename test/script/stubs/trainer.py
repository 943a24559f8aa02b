"""Stub trainer: records the rank variables it was started with (the same line format as
stub-record.sh). With STUB_TRAINER_WAIT=1 it installs a SIGUSR1/SIGUSR2 handler (as
rpo_checkpoint.Checkpointer does), says it is ready, and on the signal records it and exits 85
(the checkpoint exit); without a signal within 30 s it records a timeout and exits 3."""
import os
import signal
import sys
import time

VARS = "RPO_NODE_RANK RPO_NNODES RPO_MASTER_ADDR RPO_MASTER_PORT SLURM_NODEID SLURM_PROCID OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE RANK LOCAL_RANK WORLD_SIZE MASTER_ADDR MASTER_PORT TF_CONFIG JAX_COORDINATOR_ADDRESS JAX_NUM_PROCESSES JAX_PROCESS_ID RAY_ADDRESS CONDA_PREFIX VIRTUAL_ENV STUB_MODULES STUB_IN_CONTAINER RPO_RUN_ID".split()


def record(name, *args):
    line = name + "".join(f"\x1e{v}={os.environ.get(v, '')}" for v in VARS) + "\x1d" + "".join(f"{a}\x1f" for a in args) + "\n"
    fd = os.open(os.environ["STUB_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, line.encode())
    os.close(fd)


record("trainer", *sys.argv[1:])
if os.environ.get("STUB_TRAINER_WAIT") == "1":
    def on_signal(number, _frame):
        record("trainer-signal", signal.Signals(number).name)
        sys.exit(85)

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGUSR2, on_signal)
    open(os.path.join(os.environ["STUB_STATE"], f"ready-{os.getpid()}"), "w").close()
    time.sleep(30)
    record("trainer-timeout")
    sys.exit(3)
