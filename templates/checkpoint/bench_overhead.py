"""Checkpoint overhead and restore time of rpo_checkpoint, measured with PyTorch on this machine.

    python3 bench_overhead.py [--dir /tmp] [--quick] [--json]

1. Overhead: an MLP (~10.5 M parameters; model + Adam state ≈ 126 MB per checkpoint) trains on the CPU.
   The same number of steps runs without checkpoints, with synchronous saves and with asynchronous saves
   every 10 steps (a deliberately short interval, so the cost is measurable), three times each,
   interleaved; the cost of one checkpoint is the median wall-time difference per save, and at least the
   time a save blocks the training loop (what the noise of a shared VM cannot hide). Overhead % of compute is reported at that interval
   and at the helper's default interval (every DEFAULT_EVERY_SECONDS = 600 s of training).
2. Restore: a ~1 GiB state (16 float32 tensors of 64 MiB) is saved through the Checkpointer and restored
   with load_latest (size + sha256 verification, torch.load, load_state_dict), with a warm page cache and,
   where this process may drop the page cache (root on Linux), a cold one.

Everything is written under a temporary folder in --dir and removed at the end.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from rpo_checkpoint import DEFAULT_EVERY_SECONDS, Checkpointer, TorchState  # noqa: E402


def quiet(_line: str) -> None:
    pass


def build(hidden: int):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(1024, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, optimizer


def train(model, optimizer, steps: int, ckpt: Checkpointer | None, state) -> float:
    x = torch.randn(256, 1024)
    y = torch.randint(0, 10, (256,))
    started = time.perf_counter()
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if ckpt is not None:
            ckpt.maybe_save(step, state)
    if ckpt is not None:
        ckpt.wait()
    return time.perf_counter() - started


def overhead(root: str, steps: int, every: int, hidden: int, reps: int) -> dict:
    model, optimizer = build(hidden)
    state = TorchState(model, optimizer)
    train(model, optimizer, 3, None, state)  # warm up: allocate Adam state, first-touch memory
    runs = {"none": [], "sync": [], "async": []}
    saves = {}
    blocking = {}
    size = None
    for mode in ("none", "sync", "async") * reps:  # interleaved, medians: this kind of VM is noisy
        ckpt = None
        if mode != "none":
            directory = tempfile.mkdtemp(prefix=f"bench-{mode}-", dir=root)
            ckpt = Checkpointer(dir=directory, keep=2, every_steps=every, async_save=mode == "async", log=quiet,
                                env={})
        runs[mode].append(train(model, optimizer, steps, ckpt, state))
        if ckpt is not None:
            saves[mode] = ckpt.saves
            blocking.setdefault(mode, []).append(ckpt.blocking_seconds / max(ckpt.saves, 1))
            size = ckpt.entries()[-1]["size"]
            shutil.rmtree(ckpt.dir)
    base = statistics.median(runs["none"])
    step_seconds = base / steps
    out = {"model_parameters": sum(p.numel() for p in model.parameters()), "checkpoint_bytes": size,
           "steps": steps, "every_steps": every, "step_seconds": round(step_seconds, 4),
           "interval_seconds": round(every * step_seconds, 2), "default_interval_seconds": DEFAULT_EVERY_SECONDS}
    for mode in ("sync", "async"):
        wall = statistics.median(runs[mode])
        blocked = statistics.median(blocking[mode])
        # a save costs at least the time it blocks the loop; async also slows the loop while it writes
        per_save = max((wall - base) / saves[mode], blocked)
        out[mode] = {
            "wall_seconds": [round(w, 2) for w in runs[mode]], "baseline_seconds": [round(w, 2) for w in runs["none"]],
            "saves": saves[mode], "cost_per_save_seconds": round(per_save, 3),
            "blocking_per_save_seconds": round(blocked, 3),
            "overhead_percent_at_bench_interval": round(100 * per_save * saves[mode] / base, 2),
            "overhead_percent_at_default_interval": round(100 * per_save / DEFAULT_EVERY_SECONDS, 3),
        }
    return out


def drop_page_cache() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


class Big(torch.nn.Module):
    def __init__(self, tensors: int, elements: int):
        super().__init__()
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(elements)) for _ in range(tensors)])


def restore(root: str, gib: float) -> dict:
    tensors = 16
    elements = int(gib * (1 << 30) / 4 / tensors)
    directory = tempfile.mkdtemp(prefix="bench-restore-", dir=root)
    try:
        source = Big(tensors, elements)
        with torch.no_grad():
            for i, p in enumerate(source.weights):
                p.fill_(float(i))
        ckpt = Checkpointer(dir=directory, keep=1, every_seconds=0, log=quiet, env={})
        started = time.perf_counter()
        entry = ckpt.save(1, TorchState(source, rng=False))
        save_sync = time.perf_counter() - started
        del source
        out = {"checkpoint_bytes": entry["size"], "save_sync_seconds": round(save_sync, 2)}
        for label, cold in (("warm", False), ("cold", True)):
            if cold and not drop_page_cache():
                out["cold"] = "not measured: cannot drop the page cache (needs root on Linux)"
                continue
            target = Big(tensors, elements)
            started = time.perf_counter()
            problem = ckpt.verify(entry)
            verify = time.perf_counter() - started
            if cold:
                drop_page_cache()
            started = time.perf_counter()
            restored = Checkpointer(dir=directory, every_seconds=0, log=quiet, env={}).load_latest(
                TorchState(target, rng=False))
            total = time.perf_counter() - started
            assert problem is None and restored is not None and restored.step == 1
            assert float(target.weights[15][0]) == 15.0
            out[label] = {"restore_seconds": round(total, 2), "verify_sha256_seconds": round(verify, 2)}
            del target, restored
        return out
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where to write (a temp folder inside)")
    parser.add_argument("--quick", action="store_true", help="smaller: for a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # compute on one core, like a GPU job's host thread; the writer gets the other
    root = tempfile.mkdtemp(prefix="rpo-ckpt-bench-", dir=args.dir)
    try:
        result = {
            "torch": torch.__version__,
            "overhead": overhead(root, steps=10 if args.quick else 50, every=5 if args.quick else 10,
                                 hidden=512 if args.quick else 2048, reps=1 if args.quick else 3),
            "restore": restore(root, 0.0625 if args.quick else 1.0),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    o, r = result["overhead"], result["restore"]
    print(f"model: {o['model_parameters'] / 1e6:.1f} M parameters, checkpoint {o['checkpoint_bytes'] / 1e6:.0f} MB, "
          f"{o['step_seconds']:.3f} s/step; bench interval every {o['every_steps']} steps = {o['interval_seconds']} s")
    for mode in ("sync", "async"):
        m = o[mode]
        print(f"{mode:5}: {m['cost_per_save_seconds']:.3f} s per save ({m['blocking_per_save_seconds']:.3f} s blocking); "
              f"overhead {m['overhead_percent_at_bench_interval']:.2f} % at the bench interval, "
              f"{m['overhead_percent_at_default_interval']:.3f} % at the default {DEFAULT_EVERY_SECONDS:.0f} s interval")
    print(f"restore of a {r['checkpoint_bytes'] / (1 << 30):.2f} GiB checkpoint (saved in {r['save_sync_seconds']} s): "
          + "; ".join(f"{k} cache {v['restore_seconds']} s (sha256 {v['verify_sha256_seconds']} s)" if isinstance(v, dict)
                      else f"{k}: {v}" for k, v in r.items() if k in ("warm", "cold")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
