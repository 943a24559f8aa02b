#!/usr/bin/python3
"""mpi4py job that checkpoints on rpo's signal, for the live launcher-signal test on the Slurm testbed.

Run as the ranks of a `framework: mpi` task with a `checkpoint:` block (`srun --mpi=pmix`). Each step
every rank adds an allreduce (sum) of `rank + 1` to a running total, so an interrupted-and-resumed run
must end with `steps * size * (size + 1) / 2`. It uses rpo's helper (`rpo_checkpoint`, on PYTHONPATH
from rpo's staged copy): every rank loads the newest checkpoint (the total), installs the helper's
signal handler and, around it, one of its own that leaves a mark file, so the test sees which ranks
the signal reached (through sbatch's batch shell, srun and slurmstepd). Every step the ranks agree
(allreduce MAX) whether any of them was asked to stop: rank 0 saves, all wait for it (barrier) and all
exit 85 through `exit_for_resume()`.

Files, in --marks (default $RPO_OUTPUT_DIR/rank-marks, shared by the task's attempts):
  running-attempt-<A>-rank-<R>.json  after the rank's first step, with its handler installed
  signal-attempt-<A>-rank-<R>.json   written by the rank's signal handler
Rank 0 writes the task's outputs ($RPO_OUTPUTS) when it finishes: size, the step it started from, the
final step, the total, and every rank's record.
"""

import argparse
import json
import os
import pickle
import time

from mpi4py import MPI
from rank_marks import RankMarks
from rpo_checkpoint import Checkpointer

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=150)
parser.add_argument("--step-delay", type=float, default=0.2, help="seconds per step: time to signal")
parser.add_argument("--marks", default=None, help="folder for the mark files (default $RPO_OUTPUT_DIR/rank-marks)")
args = parser.parse_args()

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
marks = RankMarks(rank, args.marks or os.path.join(os.environ["RPO_OUTPUT_DIR"], "rank-marks"))


def load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


# srun sets no RANK: name the writer explicitly, or every rank would save
ckpt = Checkpointer(writer=rank == 0)
restored = ckpt.load_latest(load)
start, total = (restored.step, restored.value["total"]) if restored else (0, 0)
marks.mark_signals(ckpt)

for step in range(start, args.steps):
    total += comm.allreduce(rank + 1, op=MPI.SUM)
    done = step + 1
    if step == start:
        marks.mark("running", step=done, startStep=start)
    time.sleep(args.step_delay)
    if comm.allreduce(1 if ckpt.should_stop() else 0, op=MPI.MAX):
        ckpt.save(done, {"total": total}, blocking=True)  # a no-op on every rank but 0
        comm.Barrier()
        ckpt.exit_for_resume()

ckpt.wait()
ranks = comm.gather(marks.record(startStep=start), root=0)
if rank == 0 and os.environ.get("RPO_OUTPUTS"):
    with open(os.environ["RPO_OUTPUTS"], "w") as f:
        json.dump({"size": size, "startStep": start, "finalStep": args.steps, "total": total, "ranks": ranks}, f)
