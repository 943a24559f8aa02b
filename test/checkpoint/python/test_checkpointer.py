"""Unit tests of rpo_checkpoint: environment, manifest, atomic write, fallback, pruning, async, signal."""

import hashlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import tarfile
import time
import unittest

from ckpt_support import (FRESH_ENV, MODULE, TEMPLATES, TempDirCase, captured_stderr, flip_byte, rc,
                          subprocess_env, truncate)


class EnvironmentTest(TempDirCase):
    def test_parse_every(self):
        self.assertEqual(rc.parse_every("500steps"), (500, None))
        self.assertEqual(rc.parse_every("1 step"), (1, None))
        self.assertEqual(rc.parse_every("600s"), (None, 600.0))
        self.assertEqual(rc.parse_every("10m"), (None, 600.0))
        self.assertEqual(rc.parse_every("1.5h"), (None, 5400.0))
        self.assertEqual(rc.parse_every("200steps, 30min"), (200, 1800.0))
        self.assertEqual(rc.parse_every("never"), (0, 0.0))
        self.assertEqual(rc.parse_every(""), (None, None))
        with self.assertRaisesRegex(rc.CheckpointError, "RPO_CHECKPOINT_EVERY: cannot parse '10 fortnights'"):
            rc.parse_every("10 fortnights")

    def test_parse_signal(self):
        self.assertEqual(rc.parse_signal("USR2"), signal.SIGUSR2)
        self.assertEqual(rc.parse_signal("SIGUSR1"), signal.SIGUSR1)
        self.assertEqual(rc.parse_signal("sigterm"), signal.SIGTERM)
        self.assertEqual(rc.parse_signal(str(int(signal.SIGUSR2))), signal.SIGUSR2)
        with self.assertRaisesRegex(rc.CheckpointError, "unknown signal"):
            rc.parse_signal("NOPE")

    def test_defaults_without_environment(self):
        ckpt = self.make()
        self.assertEqual(ckpt.keep, 3)
        self.assertEqual((ckpt.every_steps, ckpt.every_seconds), (None, 600.0))
        self.assertEqual(ckpt.signal, signal.SIGUSR2, "default is SIGUSR2: NCCL uses SIGUSR1")
        self.assertEqual((ckpt.attempt, ckpt.restart, ckpt.job_id, ckpt.resuming), (1, 0, None, False))
        self.assertTrue(ckpt.writer)

    def test_everything_from_the_environment(self):
        env = {"RPO_CHECKPOINT_DIR": self.dir, "RPO_CHECKPOINT_KEEP": "5", "RPO_CHECKPOINT_EVERY": "250steps",
               "RPO_CHECKPOINT_SIGNAL": "USR1", "RPO_ATTEMPT": "3", "SLURM_RESTART_COUNT": "2",
               "SLURM_JOB_ID": "4242", "RANK": "1"}
        ckpt = rc.Checkpointer(env=env, log=io.StringIO())
        self.assertEqual(ckpt.dir, self.dir)
        self.assertTrue(os.path.isdir(self.dir), "the directory is created")
        self.assertEqual((ckpt.keep, ckpt.every_steps, ckpt.every_seconds), (5, 250, None))
        self.assertEqual(ckpt.signal, signal.SIGUSR1)
        self.assertEqual((ckpt.attempt, ckpt.restart, ckpt.job_id, ckpt.resuming), (3, 2, "4242", True))
        self.assertFalse(ckpt.writer, "ranks other than 0 do not write")

    def test_arguments_override_the_environment(self):
        env = {"RPO_CHECKPOINT_KEEP": "5", "RPO_CHECKPOINT_EVERY": "250steps"}
        ckpt = self.make(env=env, keep=2, every_seconds=30)
        self.assertEqual((ckpt.keep, ckpt.every_steps, ckpt.every_seconds), (2, None, 30))

    def test_resume_flags(self):
        self.assertTrue(rc.job_identity({"RPO_RESUME": "1"})["resuming"])
        self.assertTrue(rc.job_identity({"RPO_RESTART_COUNT": "1"})["resuming"])
        self.assertFalse(rc.job_identity({"RPO_RESUME": "0", "SLURM_RESTART_COUNT": "0"})["resuming"])

    def test_no_directory_is_an_error(self):
        with self.assertRaisesRegex(rc.CheckpointError, "RPO_CHECKPOINT_DIR"):
            rc.Checkpointer(env={})
        with self.assertRaisesRegex(rc.CheckpointError, "keep must be at least 1"):
            self.make(keep=0)

    def test_importing_the_module_imports_no_framework(self):
        code = (f"import sys; sys.path.insert(0, {TEMPLATES!r}); import rpo_checkpoint; "
                "print(sorted(m for m in ('torch', 'numpy', 'sklearn', 'joblib', 'tensorflow') if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), "[]")


class ManifestTest(TempDirCase):
    def test_manifest_records_each_checkpoint(self):
        env = {"RPO_ATTEMPT": "2", "SLURM_RESTART_COUNT": "1", "SLURM_JOB_ID": "77"}
        ckpt = self.make(env=env)
        entry = ckpt.save(10, {"weights": [1, 2, 3]})
        manifest = self.manifest()
        self.assertEqual(manifest["format"], "rpo-checkpoint-manifest")
        self.assertEqual(manifest["protocol"], 1)
        self.assertEqual(manifest["keep"], 3)
        self.assertEqual(manifest["checkpoints"], [entry])
        path = os.path.join(self.dir, entry["file"])
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(entry["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(entry["size"], len(data))
        self.assertEqual(pickle.loads(data), {"weights": [1, 2, 3]})
        self.assertEqual((entry["step"], entry["attempt"], entry["restart"], entry["job_id"]), (10, 2, 1, "77"))
        self.assertEqual((entry["protocol"], entry["seq"], entry["kind"]), (1, 1, "pickle"))
        self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(entry["file"], r"^ckpt-0000000010-000001\.pkl$")
        with open(path + ".json") as f:
            self.assertEqual(json.load(f), entry, "a sidecar repeats the entry (to rebuild a lost manifest)")
        saved = [e for e in self.events() if e["event"] == "checkpoint:saved"]
        self.assertEqual(len(saved), 1)
        self.assertEqual((saved[0]["file"], saved[0]["sha256"], saved[0]["attempt"]), (entry["file"], entry["sha256"], 2))

    def test_entries_are_ordered_by_write_sequence(self):
        ckpt = self.make()
        for step in (5, 10, 15):
            ckpt.save(step, b"x" * step)
        self.assertEqual([e["seq"] for e in ckpt.entries()], [1, 2, 3])
        self.assertEqual([e["step"] for e in ckpt.entries()], [5, 10, 15])

    def test_bad_steps_are_refused(self):
        ckpt = self.make()
        for bad in (-1, 1.5, "3", True):
            with self.assertRaises(rc.CheckpointError):
                ckpt.save(bad, b"x")

    def test_unreadable_manifest_is_rebuilt_from_sidecars(self):
        ckpt = self.make()
        for step in (1, 2):
            ckpt.save(step, {"step": step})
        with open(os.path.join(self.dir, rc.MANIFEST_NAME), "w") as f:
            f.write('{"checkpoints": [')
        log = io.StringIO()
        restored = self.make(log=log).load_latest(rc.PickleState(None))
        self.assertEqual(restored.value, {"step": 2})
        self.assertIn("manifest unreadable", log.getvalue())
        self.assertIn("checkpoint:manifest-rebuilt", [e["event"] for e in self.events()])
        self.make().save(3, {"step": 3})
        self.assertEqual([e["step"] for e in self.manifest()["checkpoints"]], [1, 2, 3])

    def test_a_damaged_manifest_is_said_once_by_a_process_that_loads_and_then_saves(self):
        ckpt = self.make()
        ckpt.save(1, {"step": 1})
        with open(os.path.join(self.dir, rc.MANIFEST_NAME), "w") as f:
            f.write("{")
        resumed = self.make(log=io.StringIO())
        resumed.load_latest(rc.PickleState(None))
        resumed.save(2, {"step": 2})  # reads the damaged manifest again before it writes a new one
        rebuilt = [e for e in self.events() if e["event"] == "checkpoint:manifest-rebuilt"]
        self.assertEqual(len(rebuilt), 1)
        self.assertEqual([e["step"] for e in self.manifest()["checkpoints"]], [1, 2])

    def test_an_event_after_a_line_cut_short_starts_a_line_of_its_own(self):
        ckpt = self.make()
        ckpt.save(1, {"step": 1})
        # a process killed in the middle of its event line
        with open(os.path.join(self.dir, rc.EVENTS_NAME), "a") as f:
            f.write('{"event": "checkpoint:sav')
        self.make().save(2, {"step": 2})
        with open(os.path.join(self.dir, rc.EVENTS_NAME)) as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[-1], "")
        self.assertIn('{"event": "checkpoint:sav', lines)
        saved = [json.loads(line) for line in lines if line.startswith("{\"") and line.endswith("}")]
        self.assertEqual([e["step"] for e in saved if e["event"] == "checkpoint:saved"], [1, 2])


class AtomicWriteTest(TempDirCase):
    CRASH = r"""
import os, sys, time
sys.path.insert(0, {templates!r})
import rpo_checkpoint as rc
mark = {mark!r}
original = rc._HashingWriter.write
def slow_write(self, data):
    view = memoryview(data).cast("B")
    first = original(self, view[:8 << 20])
    if self.size >= 8 << 20 and not os.path.exists(mark):
        self.flush()
        open(mark, "w").close()
        time.sleep(60)  # killed here, mid-write
    if len(view) > first:
        original(self, view[first:])
    return len(view)
rc._HashingWriter.write = slow_write
ckpt = rc.Checkpointer(dir={dir!r}, env={{}}, async_save={async_save})
ckpt.save(1, b"the previous checkpoint" * 100, blocking=True)
ckpt.save(2, os.urandom(64 << 20))
ckpt.wait()
"""

    def crash_mid_write(self, async_save: bool) -> None:
        mark = os.path.join(self.tmp, "writing")
        script = self.CRASH.format(templates=TEMPLATES, mark=mark, dir=self.dir, async_save=async_save)
        proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not os.path.exists(mark):
            self.assertIsNone(proc.poll(), proc.stderr.read().decode() if proc.poll() is not None else "")
            self.assertLess(time.monotonic(), deadline, "the large save never started")
            time.sleep(0.02)
        partial = [n for n in os.listdir(self.dir) if n.startswith(".tmp-")]
        self.assertEqual(len(partial), 1, os.listdir(self.dir))
        self.assertGreaterEqual(os.path.getsize(os.path.join(self.dir, partial[0])), 8 << 20)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()

        entries = self.make().entries()
        self.assertEqual([e["step"] for e in entries], [1], "the manifest references only the complete checkpoint")
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith("ckpt-") and not n.endswith(".json")],
                         [entries[0]["file"]], "no partial file under a checkpoint name")
        log = io.StringIO()
        restored = self.make(log=log).load_latest(rc._BytesState(None))
        self.assertEqual(restored.step, 1)
        self.assertEqual(restored.value, b"the previous checkpoint" * 100)
        self.assertNotIn("skipping", log.getvalue())
        self.make().save(2, b"again")
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".tmp-")], [],
                         "the next save removes the dead writer's temp file")

    def test_a_crash_in_the_middle_of_a_large_save_keeps_the_previous_checkpoint(self):
        self.crash_mid_write(async_save=False)

    def test_a_crash_in_the_middle_of_an_async_write_keeps_the_previous_checkpoint(self):
        self.crash_mid_write(async_save=True)

    def test_a_failing_dump_leaves_nothing_behind(self):
        ckpt = self.make()
        ckpt.save(1, b"good")

        class Broken:
            kind, suffix = "bytes", ".bin"

            def dump(self, f, step):
                f.write(b"partial" * 1000)
                raise ValueError("cannot serialise")

            def load(self, path):
                return None

        with self.assertRaisesRegex(ValueError, "cannot serialise"):
            ckpt.save(2, Broken())
        self.assertEqual([e["step"] for e in ckpt.entries()], [1])
        self.assertEqual(sorted(os.listdir(self.dir)),
                         sorted([ckpt.entries()[0]["file"], ckpt.entries()[0]["file"] + ".json", "manifest.json",
                                 "events.jsonl"]))
        failed = [e for e in self.events() if e["event"] == "checkpoint:save-failed"]
        self.assertEqual(len(failed), 1)
        self.assertIn("cannot serialise", failed[0]["reason"])

    def test_an_orphan_from_a_crash_between_rename_and_manifest_is_never_loaded_and_is_removed(self):
        ckpt = self.make()
        ckpt.save(1, b"one")
        orphan = os.path.join(self.dir, "ckpt-0000000002-000002.bin")
        with open(orphan, "wb") as f:
            f.write(b"complete but unreferenced")
        self.assertEqual(ckpt.load_latest(None).step, 1)
        ckpt.save(3, b"three")
        self.assertFalse(os.path.exists(orphan))


class FallbackTest(TempDirCase):
    def setUp(self) -> None:
        super().setUp()
        ckpt = self.make()
        for step in (10, 20, 30):
            ckpt.save(step, {"step": step})
        self.files = [e["file"] for e in ckpt.entries()]

    def load(self):
        with captured_stderr() as err:
            restored = self.make(log=None).load_latest(rc.PickleState(None))
        return restored, err.getvalue()

    def assert_fell_back(self, reason_start: str, to_step: int = 20, skipped: int = 1, skipped_step: int = 30):
        restored, stderr = self.load()
        self.assertIsNotNone(restored)
        self.assertEqual((restored.step, restored.value), (to_step, {"step": to_step}))
        self.assertIn(f"rpo-checkpoint: skipping {self.files[-1]}: {reason_start}", stderr)
        self.assertIn(f"rpo-checkpoint: resuming from {self.files[3 - skipped - 1]} (step {to_step}", stderr)
        events = self.events()
        skips = [e for e in events if e["event"] == "checkpoint:skipped"]
        self.assertEqual(len(skips), skipped)
        self.assertEqual((skips[0]["file"], skips[0]["step"]), (self.files[-1], skipped_step))
        self.assertTrue(skips[0]["reason"].startswith(reason_start), skips[0]["reason"])
        loaded = [e for e in events if e["event"] == "checkpoint:loaded"]
        self.assertEqual((loaded[-1]["step"], loaded[-1]["skipped"]), (to_step, skipped))
        return restored

    def test_the_newest_verifies_and_is_used(self):
        restored, stderr = self.load()
        self.assertEqual(restored.step, 30)
        self.assertNotIn("skipping", stderr)

    def test_a_truncated_newest_falls_back(self):
        truncate(os.path.join(self.dir, self.files[-1]))
        self.assert_fell_back("truncated: ")

    def test_a_flipped_byte_falls_back(self):
        flip_byte(os.path.join(self.dir, self.files[-1]))
        self.assert_fell_back("sha256 mismatch: ")

    def test_a_deleted_newest_falls_back(self):
        os.unlink(os.path.join(self.dir, self.files[-1]))
        self.assert_fell_back("missing: ")

    def test_a_grown_file_falls_back(self):
        with open(os.path.join(self.dir, self.files[-1]), "ab") as f:
            f.write(b"junk")
        self.assert_fell_back("size mismatch: ")

    def test_two_bad_checkpoints_fall_back_twice(self):
        flip_byte(os.path.join(self.dir, self.files[-1]))
        truncate(os.path.join(self.dir, self.files[-2]), 0.0)
        restored, stderr = self.load()
        self.assertEqual(restored.step, 10)
        self.assertIn(f"skipping {self.files[-2]}: truncated", stderr)
        self.assertEqual([e["step"] for e in self.events() if e["event"] == "checkpoint:skipped"], [30, 20])

    def test_a_checkpoint_that_verifies_but_cannot_be_loaded_falls_back(self):
        self.make().save(40, b"not a pickle")
        self.files.append(self.make().entries()[-1]["file"])
        self.files.pop(0)
        restored = self.assert_fell_back("load failed: ", to_step=30, skipped_step=40)
        self.assertEqual(restored.value, {"step": 30})

    def test_no_usable_checkpoint_starts_fresh(self):
        for name in self.files:
            flip_byte(os.path.join(self.dir, name), 0)
        restored, stderr = self.load()
        self.assertIsNone(restored)
        self.assertIn("rpo-checkpoint: no usable checkpoint (3 skipped); starting fresh", stderr)
        self.assertEqual(self.events()[-1]["event"], "checkpoint:none")
        self.assertEqual(self.events()[-1]["skipped"], 3)

    def test_a_save_after_a_fallback_is_the_newest_even_at_a_lower_step(self):
        flip_byte(os.path.join(self.dir, self.files[-1]))
        ckpt = self.make()
        self.assertEqual(ckpt.load_latest(rc.PickleState(None)).step, 20)
        ckpt.save(25, {"step": 25})
        self.assertEqual(self.make().load_latest(rc.PickleState(None)).value, {"step": 25})

    def test_a_manifest_entry_with_an_unsafe_name_or_protocol_is_skipped(self):
        manifest = self.manifest()
        manifest["checkpoints"][-1]["file"] = "../../etc/passwd"
        manifest["checkpoints"][-2]["protocol"] = 2
        with open(os.path.join(self.dir, rc.MANIFEST_NAME), "w") as f:
            json.dump(manifest, f)
        restored, stderr = self.load()
        self.assertEqual(restored.step, 10)
        self.assertIn("invalid manifest entry", stderr)
        self.assertIn("unsupported protocol 2", stderr)


class NoCheckpointTest(TempDirCase):
    def test_an_empty_directory_starts_fresh(self):
        with captured_stderr() as err:
            self.assertIsNone(self.make(log=None).load_latest(rc.PickleState(None)))
        self.assertEqual(err.getvalue(), "rpo-checkpoint: no checkpoint yet; starting fresh\n")
        self.assertEqual([(e["event"], e["skipped"], e["resuming"]) for e in self.events()],
                         [("checkpoint:none", 0, False)])

    def test_a_resume_without_checkpoint_says_so(self):
        log = io.StringIO()
        self.assertIsNone(self.make(env={"RPO_RESUME": "1"}, log=log).load_latest(None))
        self.assertIn("resume requested but the checkpoint directory holds no checkpoint", log.getvalue())
        self.assertTrue(self.events()[-1]["resuming"])


class PruneTest(TempDirCase):
    def test_only_the_newest_keep_remain(self):
        ckpt = self.make(keep=2)
        for step in range(1, 6):
            ckpt.save(step, b"s%d" % step)
        entries = ckpt.entries()
        self.assertEqual([e["step"] for e in entries], [4, 5])
        on_disk = sorted(n for n in os.listdir(self.dir) if n.startswith("ckpt-"))
        self.assertEqual(on_disk, sorted([e["file"] for e in entries] + [e["file"] + ".json" for e in entries]))
        pruned = [p for e in self.events() if e["event"] == "checkpoint:saved" for p in e["pruned"]]
        self.assertEqual(pruned, ["ckpt-0000000001-000001.bin", "ckpt-0000000002-000002.bin",
                                  "ckpt-0000000003-000003.bin"])

    def test_keep_one(self):
        ckpt = self.make(keep=1)
        ckpt.save(1, b"a")
        ckpt.save(2, b"b")
        self.assertEqual([e["step"] for e in ckpt.entries()], [2])
        self.assertEqual(len([n for n in os.listdir(self.dir) if n.startswith("ckpt-")]), 2)


class ScheduleAndSignalTest(TempDirCase):
    def test_every_steps_is_aligned_to_the_step_number(self):
        ckpt = self.make(every_steps=5)
        saved = [step for step in range(1, 23) if ckpt.maybe_save(step, b"x")]
        self.assertEqual(saved, [5, 10, 15, 20])

    def test_every_seconds(self):
        ckpt = self.make(every_seconds=0.3)
        self.assertFalse(ckpt.maybe_save(1, b"x"))
        time.sleep(0.35)
        self.assertTrue(ckpt.maybe_save(2, b"x"))
        self.assertFalse(ckpt.maybe_save(3, b"x"), "the interval restarts when the save ends")

    def test_never(self):
        ckpt = self.make(env={"RPO_CHECKPOINT_EVERY": "never"})
        self.assertFalse(any(ckpt.maybe_save(step, b"x") for step in range(1, 100)))

    def test_the_state_callable_is_called_only_when_saving(self):
        calls = []
        ckpt = self.make(every_steps=10)
        for step in range(1, 21):
            ckpt.maybe_save(step, lambda: calls.append(step) or b"x")
        self.assertEqual(calls, [10, 20])

    def test_the_signal_sets_the_flag_and_the_next_maybe_save_saves_at_once(self):
        ckpt = self.make(every_steps=1000, async_save=True)
        ckpt.install_signal_handler()
        self.addCleanup(ckpt.uninstall_signal_handler)
        self.assertFalse(ckpt.should_stop())
        os.kill(os.getpid(), signal.SIGUSR2)
        self.assertTrue(ckpt.should_stop())
        self.assertTrue(ckpt.maybe_save(7, b"state at 7"))
        self.assertEqual([e["step"] for e in ckpt.entries()], [7], "saved, and blocking despite async_save")
        self.assertFalse(ckpt.maybe_save(7, b"state at 7"), "not twice at the same step")
        with self.assertRaises(SystemExit) as exited:
            ckpt.exit_for_resume()
        self.assertEqual(exited.exception.code, 85)
        events = [e["event"] for e in self.events()]
        self.assertEqual(events, ["checkpoint:signal", "checkpoint:saved", "checkpoint:exit"])
        self.assertEqual(self.events()[0]["signal"], "SIGUSR2")

    def test_the_signal_is_configurable(self):
        ckpt = self.make(env={"RPO_CHECKPOINT_SIGNAL": "SIGUSR1"})
        ckpt.install_signal_handler()
        self.addCleanup(ckpt.uninstall_signal_handler)
        os.kill(os.getpid(), signal.SIGUSR1)
        self.assertTrue(ckpt.should_stop())

    def test_uninstall_restores_the_previous_handler(self):
        before = signal.getsignal(signal.SIGUSR2)
        ckpt = self.make()
        ckpt.install_signal_handler()
        self.assertNotEqual(signal.getsignal(signal.SIGUSR2), before)
        ckpt.uninstall_signal_handler()
        self.assertEqual(signal.getsignal(signal.SIGUSR2), before)

    def test_the_signal_while_python_finalizes_does_not_kill_a_finished_job(self):
        # Python resets its handlers to SIG_DFL while it finalizes; torch's teardown can take seconds
        # under load, and a warning then killed a job that had done its work ("killed by SIGUSR2")
        script = (
            "import os, signal, sys, time\n"
            f"sys.path.insert(0, {TEMPLATES!r})\n"
            "import rpo_checkpoint\n"
            f"rpo_checkpoint.Checkpointer(dir={self.dir!r}).install_signal_handler()\n"
            "class LateTeardown:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGUSR2)\n"
            "        time.sleep(0.2)\n"
            "sys.modules['late_teardown'] = LateTeardown()\n"
        )
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=subprocess_env(RPO_CHECKPOINT_DIR=self.dir))
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_exit_for_resume_saves_the_given_state_first(self):
        ckpt = self.make(every_steps=1000)
        ckpt.request_stop()
        with self.assertRaises(SystemExit) as exited:
            ckpt.exit_for_resume(12, b"twelve")
        self.assertEqual(exited.exception.code, rc.EXIT_RESUME)
        self.assertEqual(ckpt.load_latest(None).step, 12)

    def test_a_failed_final_save_is_a_failure_not_a_resume_request(self):
        ckpt = self.make(async_save=True)
        original = rc._write_atomic

        def disk_full(directory, name, produce):
            if name.startswith("ckpt-") and not name.endswith(".json"):
                raise OSError(28, "No space left on device")
            return original(directory, name, produce)

        rc._write_atomic = disk_full
        self.addCleanup(setattr, rc, "_write_atomic", original)
        ckpt.save(3, b"three")  # fails in the background thread
        with self.assertRaisesRegex(rc.CheckpointError, "No space left on device"):
            ckpt.exit_for_resume()


class AsyncTest(TempDirCase):
    def test_async_saves_write_the_same_bytes_as_sync_saves(self):
        import torch

        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 8))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model(torch.randn(4, 64)).sum().backward()
        optimizer.step()
        state = rc.TorchState(model, optimizer, rng=False)
        sync = self.make(dir=os.path.join(self.tmp, "sync")).save(1, state)
        asynchronous = self.make(dir=os.path.join(self.tmp, "async"), async_save=True)
        self.assertIsNone(asynchronous.save(1, state))
        asynchronous.wait()
        self.assertEqual(asynchronous.entries()[-1]["sha256"], sync["sha256"])

    def test_the_snapshot_is_taken_before_save_returns(self):
        import torch

        model = torch.nn.Linear(256, 256)
        with torch.no_grad():
            model.weight.fill_(1.0)
        ckpt = self.make(async_save=True)
        ckpt.save(1, rc.TorchState(model, rng=False))
        with torch.no_grad():
            model.weight.fill_(2.0)  # the training loop goes on while the write runs
        ckpt.wait()
        restored = torch.nn.Linear(256, 256)
        ckpt.load_latest(rc.TorchState(restored, rng=False))
        self.assertTrue(torch.equal(restored.weight, torch.ones(256, 256)))

    def test_the_reused_snapshot_buffer_never_leaks_a_previous_snapshot(self):
        ckpt = self.make(async_save=True)
        for step, data in ((1, b"long snapshot " * 5000), (2, b"short"), (3, b"medium " * 100)):
            ckpt.save(step, data)
            ckpt.wait()
            restored = self.make().load_latest(rc._BytesState(None))
            self.assertEqual((restored.step, restored.value), (step, data))
            self.assertEqual(restored.entry["size"], len(data))

    def test_never_two_writes_at_once(self):
        ckpt = self.make(async_save=True, keep=10)
        active = []
        overlaps = []
        original = rc._HashingWriter.write

        def tracking_write(writer, data):
            active.append(1)
            if len(active) > 1:
                overlaps.append(True)
            time.sleep(0.01)
            try:
                return original(writer, data)
            finally:
                active.pop()

        rc._HashingWriter.write = tracking_write
        self.addCleanup(setattr, rc._HashingWriter, "write", original)
        for step in range(1, 8):
            ckpt.save(step, os.urandom(1 << 16))
        ckpt.wait()
        self.assertEqual(overlaps, [])
        self.assertEqual([e["seq"] for e in ckpt.entries()], list(range(1, 8)))

    def test_an_async_error_surfaces_on_the_next_call(self):
        ckpt = self.make(async_save=True)
        original = rc._write_atomic
        rc._write_atomic = lambda *a: (_ for _ in ()).throw(OSError(5, "Input/output error"))
        self.addCleanup(setattr, rc, "_write_atomic", original)
        ckpt.save(1, b"one")
        with self.assertRaisesRegex(rc.CheckpointError, "checkpoint save failed: .*Input/output error"):
            ckpt.save(2, b"two")
        rc._write_atomic = original
        ckpt.save(3, b"three")
        ckpt.wait()
        self.assertEqual([e["step"] for e in ckpt.entries()], [3])


class AdapterTest(TempDirCase):
    def test_torch_state_round_trips_model_optimizer_scheduler_extra_and_rng(self):
        import random

        import numpy as np
        import torch

        def build():
            model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 2))
            optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
            return model, optimizer, scheduler

        torch.manual_seed(3)
        model, optimizer, scheduler = build()
        generator = torch.Generator().manual_seed(9)
        extra = {"generator": generator, "best_loss": 0.25}
        for _ in range(3):
            optimizer.zero_grad()
            model(torch.randn(4, 8)).sum().backward()
            optimizer.step()
            scheduler.step()
        ckpt = self.make()
        ckpt.save(3, rc.TorchState(model, optimizer, scheduler, extra))
        expected = (random.random(), np.random.rand(), torch.rand(3), torch.randn(2, generator=generator))
        expected_lr = scheduler.get_last_lr()

        torch.manual_seed(99)
        random.seed(99)
        np.random.seed(99)
        model2, optimizer2, scheduler2 = build()
        extra2 = {"generator": torch.Generator().manual_seed(0), "best_loss": None}
        restored = ckpt.load_latest(rc.TorchState(model2, optimizer2, scheduler2, extra2))
        self.assertEqual(restored.step, 3)
        for (name, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
            self.assertTrue(torch.equal(a, b), name)
        self.assertEqual(optimizer2.state_dict()["state"].keys(), optimizer.state_dict()["state"].keys())
        self.assertEqual(scheduler2.get_last_lr(), expected_lr)
        self.assertEqual(extra2["best_loss"], 0.25)
        self.assertEqual(random.random(), expected[0])
        self.assertEqual(np.random.rand(), expected[1])
        self.assertTrue(torch.equal(torch.rand(3), expected[2]))
        self.assertTrue(torch.equal(torch.randn(2, generator=extra2["generator"]), expected[3]))

    def test_a_corrupt_torch_checkpoint_falls_back_to_the_earlier_weights(self):
        import torch

        model = torch.nn.Linear(32, 32)
        ckpt = self.make()
        state = rc.TorchState(model)
        snapshots = {}
        for step in (1, 2):
            with torch.no_grad():
                model.weight.add_(1.0)
            snapshots[step] = model.weight.detach().clone()
            ckpt.save(step, state)
        flip_byte(self.newest_path(ckpt))
        target = torch.nn.Linear(32, 32)
        restored = ckpt.load_latest(rc.TorchState(target))
        self.assertEqual(restored.step, 1)
        self.assertTrue(torch.equal(target.weight, snapshots[1]))

    def test_sklearn_state_round_trips_with_joblib_and_with_pickle(self):
        import numpy as np
        from sklearn.linear_model import SGDClassifier

        rng = np.random.RandomState(0)
        x, y = rng.normal(size=(200, 5)), rng.randint(0, 2, 200)
        for use_joblib, kind in ((True, "sklearn-joblib"), (False, "sklearn-pickle")):
            with self.subTest(kind=kind):
                directory = os.path.join(self.tmp, kind)
                model = SGDClassifier(random_state=0).partial_fit(x, y, classes=[0, 1])
                extra = {"rng": np.random.RandomState(5), "epoch": 4}
                ckpt = self.make(dir=directory)
                entry = ckpt.save(4, rc.SklearnState(model, extra, use_joblib=use_joblib))
                self.assertEqual(entry["kind"], kind)
                expected_draw = extra["rng"].rand()
                state = rc.SklearnState(None, {"rng": np.random.RandomState(1), "epoch": 0}, use_joblib=use_joblib)
                self.make(dir=directory).load_latest(state)
                self.assertTrue(np.array_equal(state.estimator.coef_, model.coef_))
                self.assertEqual(state.extra["epoch"], 4)
                self.assertEqual(state.extra["rng"].rand(), expected_draw)

    def test_directory_state_round_trips_a_saved_directory(self):
        def save_dir(path):
            os.makedirs(os.path.join(path, "sub"))
            with open(os.path.join(path, "weights.bin"), "wb") as f:
                f.write(b"\x00\x01" * 1000)
            with open(os.path.join(path, "sub", "config.json"), "w") as f:
                json.dump({"layers": 2}, f)

        def load_dir(path):
            with open(os.path.join(path, "weights.bin"), "rb") as f, \
                    open(os.path.join(path, "sub", "config.json")) as g:
                return f.read(), json.load(g)

        ckpt = self.make()
        entry = ckpt.save(2, rc.DirectoryState(save_dir, load_dir))
        self.assertEqual(entry["kind"], "tar")
        restored = self.make().load_latest(rc.DirectoryState(save_dir, load_dir))
        self.assertEqual(restored.value, (b"\x00\x01" * 1000, {"layers": 2}))

    def test_directory_state_refuses_archive_members_outside_its_directory(self):
        bad = os.path.join(self.tmp, "bad.tar")
        with tarfile.open(bad, "w") as tar:
            info = tarfile.TarInfo("../escape.txt")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
        with open(bad, "rb") as f:
            self.make().save(1, f.read())
        log = io.StringIO()
        restored = self.make(log=log).load_latest(rc.DirectoryState(lambda d: None, lambda d: "loaded"))
        self.assertIsNone(restored)
        self.assertIn("refusing archive member '../escape.txt'", log.getvalue())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escape.txt")))

    def test_tensorflow_state_without_tensorflow_raises_a_clear_import_error(self):
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass
        else:
            self.skipTest("TensorFlow is installed: see TensorFlowRoundTripTest")
        with self.assertRaises(ImportError) as raised:
            rc.TensorFlowState(object())
        message = str(raised.exception)
        self.assertIn("rpo_checkpoint.TensorFlowState needs TensorFlow", message)
        self.assertIn("Install tensorflow in the job's environment", message)


def _has_tensorflow() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


@unittest.skipUnless(_has_tensorflow(), "NOT RUNNABLE HERE: TensorFlow is not installed on this machine")
class TensorFlowRoundTripTest(TempDirCase):
    def test_tensorflow_state_round_trips_a_tf_train_checkpoint(self):
        import tensorflow as tf

        step = tf.Variable(0, dtype=tf.int64)
        weights = tf.Variable(tf.random.normal((4, 4), seed=1))
        ckpt = self.make()
        step.assign(7)
        ckpt.save(7, rc.TensorFlowState(tf.train.Checkpoint(step=step, weights=weights)))
        expected = weights.numpy().copy()
        step2, weights2 = tf.Variable(0, dtype=tf.int64), tf.Variable(tf.zeros((4, 4)))
        restored = self.make().load_latest(rc.TensorFlowState(tf.train.Checkpoint(step=step2, weights=weights2)))
        self.assertEqual(restored.step, 7)
        self.assertEqual(int(step2.numpy()), 7)
        self.assertTrue((weights2.numpy() == expected).all())


class CommandLineTest(TempDirCase):
    def run_cli(self, *args, **env):
        return subprocess.run([sys.executable, MODULE, *args], capture_output=True, text=True,
                              env=subprocess_env(RPO_CHECKPOINT_DIR=self.dir, **env))

    def test_commit_latest_list_and_fallback(self):
        self.assertEqual(self.run_cli("latest").returncode, rc.EXIT_NO_CHECKPOINT)
        for step in (1, 2):
            src = os.path.join(self.tmp, f"state{step}.dat")
            with open(src, "w") as f:
                f.write(f"state {step}\n")
            done = self.run_cli("commit", "--step", str(step), src)
            self.assertEqual(done.returncode, 0, done.stderr)
        latest = self.run_cli("latest")
        self.assertEqual(latest.returncode, 0)
        with open(latest.stdout.strip()) as f:
            self.assertEqual(f.read(), "state 2\n")
        self.assertTrue(latest.stdout.strip().endswith(".dat"))
        entry = json.loads(self.run_cli("latest", "--json").stdout)
        self.assertEqual((entry["step"], entry["kind"]), (2, "file"))
        flip_byte(latest.stdout.strip(), 0)
        fallback = self.run_cli("latest")
        with open(fallback.stdout.strip()) as f:
            self.assertEqual(f.read(), "state 1\n")
        self.assertIn("skipping ckpt-0000000002-000002.dat: sha256 mismatch", fallback.stderr)
        listed = [json.loads(line) for line in self.run_cli("list").stdout.splitlines()]
        self.assertEqual([(e["step"], e["problem"] is None) for e in listed], [(1, True), (2, False)])

    def test_commit_of_a_missing_file_or_without_directory_fails(self):
        self.assertEqual(self.run_cli("commit", "--step", "1", os.path.join(self.tmp, "nope")).returncode, 2)
        no_dir = subprocess.run([sys.executable, MODULE, "latest"], capture_output=True, text=True,
                                env=subprocess_env())
        self.assertEqual(no_dir.returncode, 2)
        self.assertIn("RPO_CHECKPOINT_DIR", no_dir.stderr)


if __name__ == "__main__":
    unittest.main()
