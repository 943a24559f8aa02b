"""Mark files a rank of the live launcher-signal workloads leaves (ddp_checkpoint.py, mpi_checkpoint.py).

`RankMarks(rank, folder).mark(kind, **extra)` writes `<kind>-attempt-<A>-rank-<R>.json` atomically:
who wrote it (rank, rpo attempt, Slurm node name and id, host, pid) and when, with `extra`, so the
test can tell which ranks a signal reached and that the mark came from the training process.
`mark_signals(ckpt)` installs the checkpoint helper's signal handler with a `signal` mark around it.
"""

import json
import os
import signal
import socket
import time


class RankMarks:
    def __init__(self, rank, folder):
        self.rank = rank
        self.attempt = os.environ.get("RPO_ATTEMPT", "0")
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def record(self, **extra):
        return {
            "rank": self.rank,
            "attempt": int(self.attempt),
            "node": os.environ.get("SLURMD_NODENAME"),
            "nodeId": os.environ.get("SLURM_NODEID"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "time": time.time(),
            **extra,
        }

    def mark(self, kind, **extra):
        path = os.path.join(self.folder, f"{kind}-attempt-{self.attempt}-rank-{self.rank}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.record(**extra), f)
        os.replace(path + ".tmp", path)

    def mark_signals(self, ckpt):
        """Install the helper's handler for its signal, wrapped in one that first leaves a `signal` mark."""
        ckpt.install_signal_handler()
        helper_handler = signal.getsignal(ckpt.signal)

        def on_signal(signum, frame):
            self.mark("signal", signal=signal.Signals(signum).name)
            helper_handler(signum, frame)

        signal.signal(ckpt.signal, on_signal)
