"""A small, deterministic scikit-learn job that checkpoints and resumes through rpo_checkpoint.

SGDClassifier trained with partial_fit on mini-batches drawn from a numpy RandomState that is saved in
the checkpoint (SklearnState's `extra`), so an interrupted-and-resumed run ends with coefficients
bit-identical to an uninterrupted one. A warm_start loop (fit one epoch at a time) checkpoints the same
way: save the estimator after each fit.

    RPO_CHECKPOINT_DIR=/tmp/ck python3 train_sklearn.py --steps 300 --every 25

Prints one JSON line at the end (final step, sha256 of coef_/intercept_, accuracy, steps executed);
every executed step is appended to <checkpoint dir>/executed-steps.log.
"""

import argparse
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402

from rpo_checkpoint import Checkpointer, SklearnState  # noqa: E402


def model_sha256(model: SGDClassifier) -> str:
    sha = hashlib.sha256()
    sha.update(np.ascontiguousarray(model.coef_).tobytes())
    sha.update(np.ascontiguousarray(model.intercept_).tobytes())
    return sha.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=25, help="checkpoint every N steps (0: only on the signal)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--async-save", action="store_true")
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--progress-every", type=int, default=25)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()

    data_rng = np.random.RandomState(args.seed)
    inputs = data_rng.normal(size=(2000, 20))
    labels = (inputs @ data_rng.normal(size=20) + 0.3 * data_rng.normal(size=2000) > 0).astype(int)
    classes = np.array([0, 1])

    extra = {"batch_rng": np.random.RandomState(args.seed + 1)}
    state = SklearnState(SGDClassifier(loss="log_loss", alpha=1e-4, random_state=args.seed), extra=extra)
    ckpt = Checkpointer(dir=args.dir, every_steps=args.every, async_save=args.async_save)
    restored = ckpt.load_latest(state)
    start = restored.step if restored else 0
    model = state.estimator
    ckpt.install_signal_handler()
    executed_log = open(os.path.join(ckpt.dir, "executed-steps.log"), "a", buffering=1)
    print(json.dumps({"event": "started", "start_step": start, "resumed": restored is not None}), flush=True)

    executed = 0
    for step in range(start, args.steps):
        index = extra["batch_rng"].randint(0, inputs.shape[0], size=64)
        model.partial_fit(inputs[index], labels[index], classes=classes)
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
              "weights_sha256": model_sha256(model), "accuracy": float(model.score(inputs, labels)),
              "executed": executed, "executed_total": total_executed}
    print(json.dumps(result), flush=True)
    # under rpo: the result becomes the task's outputs
    if os.environ.get("RPO_OUTPUTS"):
        with open(os.environ["RPO_OUTPUTS"], "w") as f:
            json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
