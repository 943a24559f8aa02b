"""A small, deterministic PyTorch job that checkpoints and resumes through rpo_checkpoint.

A 2-layer MLP with dropout, Adam and a StepLR schedule on synthetic data; each step draws its batch
from the global torch RNG, so an interrupted-and-resumed run must end with bit-identical weights to an
uninterrupted one (model, optimizer, scheduler and RNG states all round-trip through the checkpoint).

    RPO_CHECKPOINT_DIR=/tmp/ck python3 train_torch.py --steps 400 --every 50
    # SIGUSR2 → saves, exits 85; run again (rpo sets RPO_RESUME=1) → continues where it stopped

Prints one JSON line at the end: final step, sha256 of the weights, loss, steps executed. Every executed
step is also appended to <checkpoint dir>/executed-steps.log, so steps redone after a crash are counted.
"""

import argparse
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

from rpo_checkpoint import Checkpointer, TorchState  # noqa: E402


def weights_sha256(model: torch.nn.Module) -> str:
    sha = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        sha.update(name.encode())
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=50, help="checkpoint every N steps (0: only on the signal)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--async-save", action="store_true")
    parser.add_argument("--step-delay", type=float, default=0.0, help="sleep per step (tests: time to signal)")
    parser.add_argument("--progress-every", type=int, default=25)
    parser.add_argument("--dir", default=None, help="checkpoint directory (default $RPO_CHECKPOINT_DIR)")
    args = parser.parse_args()

    torch.set_num_threads(1)  # same kernels, same reduction order: bit-identical runs
    torch.manual_seed(args.seed)
    data_gen = torch.Generator().manual_seed(args.seed + 1)
    inputs = torch.randn(512, 16, generator=data_gen)
    labels = (inputs[:, :4].sum(dim=1) > 0).long() + 2 * (inputs[:, 4] > 0).long()

    model = torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(64, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)
    state = TorchState(model, optimizer, scheduler)

    ckpt = Checkpointer(dir=args.dir, every_steps=args.every, async_save=args.async_save)
    restored = ckpt.load_latest(state)
    start = restored.step if restored else 0
    ckpt.install_signal_handler()
    executed_log = open(os.path.join(ckpt.dir, "executed-steps.log"), "a", buffering=1)
    print(json.dumps({"event": "started", "start_step": start, "resumed": restored is not None}), flush=True)

    loss = torch.tensor(float("nan"))
    executed = 0
    for step in range(start, args.steps):
        index = torch.randint(0, inputs.shape[0], (32,))
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs[index]), labels[index])
        loss.backward()
        optimizer.step()
        scheduler.step()
        done = step + 1
        executed += 1
        executed_log.write(f"{done}\n")
        if args.step_delay:
            time.sleep(args.step_delay)
        if args.progress_every and done % args.progress_every == 0:
            print(json.dumps({"event": "progress", "step": done}), flush=True)
        ckpt.maybe_save(done, state)
        if ckpt.should_stop():
            executed_log.close()
            print(json.dumps({"event": "stopping", "step": done, "executed": executed}), flush=True)
            ckpt.exit_for_resume()
    ckpt.wait()
    executed_log.close()
    with open(os.path.join(ckpt.dir, "executed-steps.log")) as f:
        total_executed = sum(1 for _ in f)
    result = {"event": "finished", "final_step": args.steps, "start_step": start,
              "weights_sha256": weights_sha256(model), "loss": float(loss), "executed": executed,
              "executed_total": total_executed}
    print(json.dumps(result), flush=True)
    # under rpo: the result becomes the task's outputs
    if os.environ.get("RPO_OUTPUTS"):
        with open(os.environ["RPO_OUTPUTS"], "w") as f:
            json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
