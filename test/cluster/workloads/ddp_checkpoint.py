#!/usr/bin/python3
"""DDP trainer that checkpoints on rpo's signal, for the live launcher-signal test on the Slurm testbed.

Run under torchrun (gloo on CPUs) by a `framework: pytorch-ddp` task with a `checkpoint:` block. It
uses rpo's helper (`rpo_checkpoint`, on PYTHONPATH from rpo's staged copy): every rank loads the newest
checkpoint, installs the helper's signal handler and, around it, one of its own that leaves a mark
file, so the test sees which ranks the signal reached (through sbatch's batch shell, srun,
slurmstepd and torchrun). Every step the ranks agree (allreduce MAX) whether any of them was asked to
stop, so all stop after the same step: rank 0 (the helper's writer) saves, all wait for the save
(barrier; a rank that exits first would have srun --kill-on-bad-exit end the others mid-save) and all
exit 85 through `exit_for_resume()`.

Files, in --marks (default $RPO_OUTPUT_DIR/rank-marks, shared by the task's attempts):
  running-attempt-<A>-rank-<R>.json  after the rank's first step, with its handler installed
  signal-attempt-<A>-rank-<R>.json   written by the rank's signal handler
Rank 0 writes the task's outputs ($RPO_OUTPUTS) when it finishes: world size, the step it started
from, the final step and every rank's record.
"""

import argparse
import json
import os
import time

import torch
import torch.distributed as dist
from rank_marks import RankMarks
from rpo_checkpoint import Checkpointer, TorchState

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=150)
parser.add_argument("--step-delay", type=float, default=0.2, help="seconds per step: time to signal")
parser.add_argument("--marks", default=None, help="folder for the mark files (default $RPO_OUTPUT_DIR/rank-marks)")
args = parser.parse_args()

torch.set_num_threads(1)
world = int(os.environ["WORLD_SIZE"])
rank = int(os.environ["RANK"])
marks = RankMarks(rank, args.marks or os.path.join(os.environ["RPO_OUTPUT_DIR"], "rank-marks"))
dist.init_process_group("gloo")  # env://: MASTER_ADDR/PORT, RANK, WORLD_SIZE from torchrun


gen = torch.Generator().manual_seed(1234)
x = torch.randn(64, 8, generator=gen)
y = x @ torch.randn(8, 1, generator=gen)
torch.manual_seed(1234)
model = torch.nn.Linear(8, 1)
net = torch.nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(net.parameters(), lr=0.01)
state = TorchState(model, opt)

ckpt = Checkpointer()  # directory, signal and interval from rpo's RPO_CHECKPOINT_*; writer: rank 0
restored = ckpt.load_latest(state)
start = restored.step if restored else 0
marks.mark_signals(ckpt)

shard = x.shape[0] // world
for step in range(start, args.steps):
    opt.zero_grad()
    lo = rank * shard
    torch.nn.functional.mse_loss(net(x[lo : lo + shard]), y[lo : lo + shard]).backward()
    opt.step()
    done = step + 1
    if step == start:
        marks.mark("running", step=done, startStep=start)
    time.sleep(args.step_delay)
    stop = torch.tensor([1 if ckpt.should_stop() else 0])
    dist.all_reduce(stop, op=dist.ReduceOp.MAX)
    if stop.item():
        ckpt.save(done, state, blocking=True)  # a no-op on every rank but 0
        dist.barrier()
        ckpt.exit_for_resume()

ckpt.wait()
ranks = [None] * world
dist.all_gather_object(ranks, marks.record(startStep=start))
if rank == 0 and os.environ.get("RPO_OUTPUTS"):
    with open(os.environ["RPO_OUTPUTS"], "w") as f:
        json.dump({"worldSize": world, "startStep": start, "finalStep": args.steps, "ranks": ranks}, f)
dist.barrier()
dist.destroy_process_group()
