#!/usr/bin/python3
"""MPI job for rpo's live test on the Slurm testbed: every rank contributes its rank number to an
allreduce (sum) and reports where it ran. Rank 0 gathers every rank's record and writes it, with
the sum, to $RPO_OUTPUTS (the task's outputs) when rpo runs it, and always to stdout as
`RPO_MPI_RESULT=<json>`.
"""

import json
import os
import socket

from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
total = comm.allreduce(rank, op=MPI.SUM)
me = {
    "rank": rank,
    "size": size,
    "sum": total,
    "node": os.environ.get("SLURMD_NODENAME"),
    "nodeId": os.environ.get("SLURM_NODEID"),
    "host": socket.gethostname(),
    "pid": os.getpid(),
}
ranks = comm.gather(me, root=0)
if rank == 0:
    result = {"size": size, "sum": total, "expectedSum": size * (size - 1) // 2, "ranks": ranks}
    if os.environ.get("RPO_OUTPUTS"):
        with open(os.environ["RPO_OUTPUTS"], "w") as f:
            json.dump(result, f)
    print("RPO_MPI_RESULT=" + json.dumps(result), flush=True)
