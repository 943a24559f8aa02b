"""The example jobs as real processes: SIGUSR2 mid-training → exit 85 + checkpoint; resume → identical weights.

Each job is run uninterrupted once for its reference hash, then interrupted (SIGUSR2, or SIGKILL as a
crash) and resumed with RPO_RESUME=1: the resumed run must end with bit-identical weights, and the steps
executed over all attempts must not exceed the uninterrupted count by more than one checkpoint interval.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from ckpt_support import EXAMPLES, flip_byte, rc, subprocess_env

TIMEOUT = 120


class Job:
    def __init__(self, script: str, steps: int, every: int, extra_args=()):
        self.script = os.path.join(EXAMPLES, script)
        self.steps = steps
        self.every = every
        self.extra_args = list(extra_args)

    def argv(self, *more):
        return [sys.executable, self.script, "--steps", str(self.steps), "--every", str(self.every),
                *self.extra_args, *more]

    def run(self, directory: str, *more, **env) -> tuple[dict, str]:
        done = subprocess.run(self.argv(*more), capture_output=True, text=True, timeout=TIMEOUT,
                              env=subprocess_env(RPO_CHECKPOINT_DIR=directory, **env))
        if done.returncode != 0:
            raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr

    def interrupt(self, directory: str, at_step: int, sig: int, *more) -> tuple[int, list, str]:
        """Start the job slowed down, wait until it reports `at_step`, send `sig`; return (code, stdout lines, stderr)."""
        proc = subprocess.Popen(self.argv("--step-delay", "0.004", "--progress-every", "10", *more),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=subprocess_env(RPO_CHECKPOINT_DIR=directory))
        lines = []
        deadline = time.monotonic() + TIMEOUT
        try:
            for line in proc.stdout:
                lines.append(json.loads(line))
                if lines[-1].get("event") == "progress" and lines[-1]["step"] >= at_step:
                    proc.send_signal(sig)
                    break
                if time.monotonic() > deadline:
                    break
            rest, stderr = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines += [json.loads(line) for line in rest.splitlines() if line.strip()]
        return proc.returncode, lines, stderr


class ExampleCase(unittest.TestCase):
    job: Job

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="rpo-ckpt-example-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def directory(self, name: str) -> str:
        return os.path.join(self.tmp, name)

    def reference(self) -> dict:
        """The uninterrupted run, once per job class."""
        cls = type(self)
        if getattr(cls, "_reference", None) is None:
            result, _ = self.job.run(self.directory("reference"))
            self.assertEqual((result["start_step"], result["executed_total"]), (0, self.job.steps))
            cls._reference = result
        return cls._reference

    def signal_then_resume(self, *more):
        reference = self.reference()
        directory = self.directory("interrupted")
        code, lines, stderr = self.job.interrupt(directory, self.job.steps // 4, signal.SIGUSR2, *more)
        self.assertEqual(code, rc.EXIT_RESUME, stderr)
        stopping = [line for line in lines if line["event"] == "stopping"]
        self.assertEqual(len(stopping), 1, lines)
        stopped_at = stopping[0]["step"]
        self.assertLess(stopped_at, self.job.steps, "the signal arrived mid-training")
        self.assertIn("received SIGUSR2", stderr)
        self.assertIn(f"exiting with {rc.EXIT_RESUME}", stderr)
        entries = rc.Checkpointer(dir=directory, env={}, log=lambda line: None).entries()
        self.assertEqual(entries[-1]["step"], stopped_at, "a checkpoint at the step where it stopped")

        resumed, resumed_stderr = self.job.run(directory, *more, RPO_RESUME=1, RPO_ATTEMPT=2)
        self.assertEqual(resumed["start_step"], stopped_at)
        self.assertIn(f"resuming from {entries[-1]['file']}", resumed_stderr)
        self.assertEqual(resumed["weights_sha256"], reference["weights_sha256"], "bit-identical to uninterrupted")
        self.assertLessEqual(resumed["executed_total"], self.job.steps + self.job.every)
        self.assertEqual(resumed["executed_total"], self.job.steps, "the signal save loses no step")
        events = [e["event"] for e in self.read_events(directory)]
        self.assertIn("checkpoint:signal", events)
        self.assertIn("checkpoint:exit", events)
        attempts = {e["attempt"] for e in rc.Checkpointer(dir=directory, env={}, log=lambda line: None).entries()}
        self.assertIn(2, attempts, "the manifest records the attempt that wrote each checkpoint")

    def read_events(self, directory: str) -> list:
        with open(os.path.join(directory, rc.EVENTS_NAME)) as f:
            return [json.loads(line) for line in f]


class TorchExampleTest(ExampleCase):
    job = Job("train_torch.py", steps=400, every=50)

    def test_sigusr2_then_resume_gives_identical_weights(self):
        self.signal_then_resume()

    def test_with_async_saves(self):
        self.signal_then_resume("--async-save")

    def test_a_crash_resumes_from_the_last_periodic_checkpoint(self):
        reference = self.reference()
        directory = self.directory("crashed")
        code, lines, _ = self.job.interrupt(directory, 170, signal.SIGKILL)
        self.assertEqual(code, -signal.SIGKILL)
        self.assertFalse([line for line in lines if line["event"] == "finished"])
        resumed, stderr = self.job.run(directory, RPO_RESUME=1, RPO_ATTEMPT=2)
        self.assertEqual(resumed["start_step"] % self.job.every, 0)
        self.assertGreaterEqual(resumed["start_step"], 150)
        self.assertEqual(resumed["weights_sha256"], reference["weights_sha256"])
        self.assertLessEqual(resumed["executed_total"], self.job.steps + self.job.every)

    def test_a_corrupted_newest_checkpoint_resumes_from_the_previous_one(self):
        reference = self.reference()
        directory = self.directory("corrupted")
        code, _, _ = self.job.interrupt(directory, 120, signal.SIGUSR2)
        self.assertEqual(code, rc.EXIT_RESUME)
        ckpt = rc.Checkpointer(dir=directory, env={}, log=lambda line: None)
        newest, previous = ckpt.entries()[-1], ckpt.entries()[-2]
        flip_byte(os.path.join(directory, newest["file"]))
        resumed, stderr = self.job.run(directory, RPO_RESUME=1, RPO_ATTEMPT=2)
        self.assertIn(f"rpo-checkpoint: skipping {newest['file']}: sha256 mismatch", stderr)
        self.assertEqual(resumed["start_step"], previous["step"])
        self.assertEqual(resumed["weights_sha256"], reference["weights_sha256"])
        self.assertLessEqual(resumed["executed_total"], self.job.steps + self.job.every)
        skipped = [e for e in self.read_events(directory) if e["event"] == "checkpoint:skipped"]
        self.assertEqual([e["file"] for e in skipped], [newest["file"]])


class SklearnExampleTest(ExampleCase):
    job = Job("train_sklearn.py", steps=300, every=25)

    def test_sigusr2_then_resume_gives_identical_coefficients(self):
        self.signal_then_resume()

    def test_a_crash_resumes_from_the_last_periodic_checkpoint(self):
        reference = self.reference()
        directory = self.directory("crashed")
        code, _, _ = self.job.interrupt(directory, 140, signal.SIGKILL)
        self.assertEqual(code, -signal.SIGKILL)
        resumed, _ = self.job.run(directory, RPO_RESUME=1)
        self.assertEqual(resumed["weights_sha256"], reference["weights_sha256"])
        self.assertLessEqual(resumed["executed_total"], self.job.steps + self.job.every)


if __name__ == "__main__":
    unittest.main()
