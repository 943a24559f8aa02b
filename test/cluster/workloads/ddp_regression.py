#!/usr/bin/python3
"""Tiny deterministic training run for rpo's live DDP test on the Slurm testbed.

A two-layer MLP is fitted to synthetic regression data drawn from a fixed seed, with plain SGD
on a fixed sequence of global batches. Run as one process, every step uses the whole global
batch. Run under torchrun with world size W, rank r takes rows [r*B/W, (r+1)*B/W) of the same
global batch; DistributedDataParallel averages the W shard gradients, and because every shard
has the same size and the loss is a mean, that average *is* the full-batch gradient. So both
runs take the same steps and end at the same loss, up to floating-point rounding (float64).

Writes, under --out: rank-<R>.json for every rank (rank, world size, Slurm node) and, from rank 0,
result.json with the initial and final loss over the whole data set and every rank's record; rank
0 writes the same JSON to $RPO_OUTPUTS when rpo runs it (the task's outputs). Also prints
`RPO_FINAL_LOSS=<loss>` from every rank.
"""

import argparse
import json
import os
import socket

import torch
import torch.distributed as dist

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True, help="folder for rank-<R>.json and result.json")
parser.add_argument("--seed", type=int, default=1234)
parser.add_argument("--steps", type=int, default=60)
parser.add_argument("--global-batch", type=int, default=64)
parser.add_argument("--samples", type=int, default=256)
parser.add_argument("--lr", type=float, default=0.05)
args = parser.parse_args()

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

world = int(os.environ.get("WORLD_SIZE", "1"))
rank = int(os.environ.get("RANK", "0"))
distributed = world > 1
if distributed:
    dist.init_process_group("gloo")  # env://: MASTER_ADDR/PORT, RANK, WORLD_SIZE from the launcher
if args.global_batch % world != 0:
    raise SystemExit(f"--global-batch {args.global_batch} is not divisible by the world size {world}")
shard = args.global_batch // world

os.makedirs(args.out, exist_ok=True)
me = {
    "rank": rank,
    "worldSize": world,
    "localRank": int(os.environ.get("LOCAL_RANK", "0")),
    "node": os.environ.get("SLURMD_NODENAME"),
    "nodeId": os.environ.get("SLURM_NODEID"),
    "host": socket.gethostname(),
    "pid": os.getpid(),
}
with open(os.path.join(args.out, f"rank-{rank}.json"), "w") as f:
    json.dump(me, f)

# Same data and same initial weights in every process, from the seed alone.
gen = torch.Generator().manual_seed(args.seed)
x = torch.randn(args.samples, 8, generator=gen)
true_w = torch.randn(8, 1, generator=gen)
y = torch.tanh(x @ true_w) + 0.1 * torch.randn(args.samples, 1, generator=gen)
torch.manual_seed(args.seed)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
opt = torch.optim.SGD(net.parameters(), lr=args.lr)
loss_fn = torch.nn.MSELoss()  # a mean: the average of equal-size shard means is the batch mean

with torch.no_grad():
    initial = loss_fn(model(x), y).item()
batches = args.samples // args.global_batch
for step in range(args.steps):
    start = (step % batches) * args.global_batch + rank * shard
    xb, yb = x[start : start + shard], y[start : start + shard]
    opt.zero_grad()
    loss_fn(net(xb), yb).backward()
    opt.step()

with torch.no_grad():
    final = loss_fn(model(x), y).item()
ranks = [me]
if distributed:
    ranks = [None] * world
    dist.all_gather_object(ranks, me)
if rank == 0:
    result = {
        "initialLoss": initial,
        "finalLoss": final,
        "worldSize": world,
        "steps": args.steps,
        "seed": args.seed,
        "ranks": ranks,
    }
    targets = [os.path.join(args.out, "result.json")]
    if os.environ.get("RPO_OUTPUTS"):
        targets.append(os.environ["RPO_OUTPUTS"])
    for target in targets:
        with open(target, "w") as f:
            json.dump(result, f)
print(f"rank={rank} world={world} node={os.environ.get('SLURMD_NODENAME')} RPO_FINAL_LOSS={final!r}", flush=True)
if distributed:
    dist.destroy_process_group()
