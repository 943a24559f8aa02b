"""rpo job-side checkpoint helper — checkpoint protocol version 1.

Shipped with rpo and copied next to the job. Imports only the standard library at import time;
PyTorch, scikit-learn/joblib, numpy and TensorFlow are imported by the adapter that needs them.
The protocol (environment names, exit code, manifest schema, events, fallback rules) is specified
in rpo's docs/checkpointing.md; the constants below are its single source in code.

    from rpo_checkpoint import Checkpointer, TorchState

    ckpt = Checkpointer()                       # RPO_CHECKPOINT_DIR, _KEEP, _EVERY, _SIGNAL
    state = TorchState(model, optimizer, scheduler)
    restored = ckpt.load_latest(state)          # newest checkpoint whose sha256 verifies, or None
    start = restored.step if restored else 0
    ckpt.install_signal_handler()               # SIGUSR2 by default (NCCL uses SIGUSR1)
    for step in range(start, total):
        train_one_step()
        ckpt.maybe_save(step + 1, state)        # on schedule, or at once after the signal
        if ckpt.should_stop():
            ckpt.exit_for_resume()              # exit 85: "checkpointed, please resume"

Also a small CLI for non-Python jobs (used by rpo-checkpoint.sh):
    python3 rpo_checkpoint.py commit --step N FILE   # publish FILE as a checkpoint, atomically
    python3 rpo_checkpoint.py latest [--json]        # newest verified checkpoint (exit 3: none)
    python3 rpo_checkpoint.py list                   # every manifest entry, verified
"""

from __future__ import annotations

import atexit
import datetime as _dt
import errno
import hashlib
import io
import json
import os
import pickle
import random
import re
import shutil
import signal as _signal
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

PROTOCOL_VERSION = 1
#: exit code of a job that saved a checkpoint on request and wants to be resumed (docs/checkpointing.md)
EXIT_RESUME = 85
#: exit code of the CLI's `latest` when no checkpoint is usable
EXIT_NO_CHECKPOINT = 3
DEFAULT_SIGNAL = "SIGUSR2"
DEFAULT_KEEP = 3
#: periodic interval when neither the job nor RPO_CHECKPOINT_EVERY sets one
DEFAULT_EVERY_SECONDS = 600.0
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "rpo-checkpoint-manifest"
EVENTS_NAME = "events.jsonl"
LOG_PREFIX = "rpo-checkpoint: "

ENV_DIR = "RPO_CHECKPOINT_DIR"
ENV_KEEP = "RPO_CHECKPOINT_KEEP"
ENV_EVERY = "RPO_CHECKPOINT_EVERY"
ENV_SIGNAL = "RPO_CHECKPOINT_SIGNAL"
ENV_LEAD_SECONDS = "RPO_CHECKPOINT_LEAD_SECONDS"
ENV_PROTOCOL = "RPO_CHECKPOINT_PROTOCOL"
ENV_RESUME = "RPO_RESUME"
ENV_ATTEMPT = "RPO_ATTEMPT"
ENV_RESTART_COUNT = "RPO_RESTART_COUNT"
ENV_SLURM_RESTART_COUNT = "SLURM_RESTART_COUNT"

_FILE_RE = re.compile(r"^ckpt-[0-9]{10,}-[0-9]{6,}[A-Za-z0-9._-]*$")
_CHUNK = 8 << 20

__all__ = [
    "PROTOCOL_VERSION", "EXIT_RESUME", "DEFAULT_SIGNAL", "DEFAULT_KEEP", "DEFAULT_EVERY_SECONDS",
    "CheckpointError", "Checkpointer", "Restored", "TorchState", "SklearnState", "PickleState",
    "DirectoryState", "TensorFlowState", "parse_every", "parse_signal", "job_identity",
]


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or the helper was misconfigured."""


@dataclass(frozen=True)
class Restored:
    """What load_latest restored: the step, the checkpoint's path and manifest entry, the loader's value."""

    step: int
    path: str
    entry: dict
    value: Any


# ---------------------------------------------------------------------------------------------
# environment


def parse_every(text: str | None) -> tuple[int | None, float | None]:
    """Parse RPO_CHECKPOINT_EVERY: comma-separated `<int>steps` and/or `<n>s|m|h`; `never` → (0, 0).

    Returns (every_steps, every_seconds); None where not given, 0 where disabled.
    """
    if text is None or not text.strip():
        return None, None
    if text.strip().lower() == "never":
        return 0, 0.0
    steps: int | None = None
    seconds: float | None = None
    for part in text.split(","):
        item = part.strip().lower()
        m = re.fullmatch(r"([0-9]+)\s*steps?", item)
        if m:
            steps = int(m.group(1))
            continue
        m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*(s|sec|m|min|h)", item)
        if m:
            seconds = float(m.group(1)) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[m.group(2)]
            continue
        raise CheckpointError(f"{ENV_EVERY}: cannot parse {part.strip()!r} (expected e.g. 500steps, 600s, 10m, 1h, never)")
    return steps, seconds


def parse_signal(value: str | int | _signal.Signals) -> _signal.Signals:
    """A signal from `SIGUSR2`, `USR2`, `12` or a signal object."""
    if isinstance(value, _signal.Signals):
        return value
    if isinstance(value, int):
        return _signal.Signals(value)
    text = str(value).strip().upper()
    if text.isdigit():
        return _signal.Signals(int(text))
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return _signal.Signals[name]
    except KeyError:
        raise CheckpointError(f"unknown signal {value!r}") from None


def _env_int(env, name: str, default: int) -> int:
    raw = env.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        return default


def job_identity(env=None) -> dict:
    """attempt (rpo's, RPO_ATTEMPT), restart (scheduler requeues), job id and whether this start resumes."""
    env = os.environ if env is None else env
    restart = max(_env_int(env, ENV_RESTART_COUNT, 0), _env_int(env, ENV_SLURM_RESTART_COUNT, 0))
    return {
        "attempt": _env_int(env, ENV_ATTEMPT, 1),
        "restart": restart,
        "job_id": env.get("SLURM_JOB_ID") or env.get("PBS_JOBID") or None,
        "resuming": env.get(ENV_RESUME, "") == "1" or restart > 0,
    }


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# durable file primitives


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some network filesystems refuse fsync on a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


class _HashingWriter(io.RawIOBase):
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, raw):
        super().__init__()
        self._raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.sha.update(view)
        self._raw.write(view)
        self.size += len(view)
        return len(view)

    def flush(self) -> None:
        if not self._raw.closed:  # IOBase's finaliser flushes again after the file was closed
            self._raw.flush()


class _SnapshotBuffer(io.RawIOBase):
    """An in-memory write target kept across snapshots, so later snapshots reuse already-mapped pages.

    (A fresh BytesIO per snapshot pays the page faults of a checkpoint-sized allocation every time.)
    """

    def __init__(self):
        super().__init__()
        self._buf = bytearray()
        self._pos = 0

    def writable(self) -> bool:
        return True

    def reset(self) -> None:
        self._pos = 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        end = self._pos + len(view)
        # overwrites within the kept size; past it, bytearray grows by realloc (mremap: no copy)
        self._buf[self._pos:end] = view
        self._pos = end
        return len(view)

    def tell(self) -> int:
        return self._pos

    def view(self) -> memoryview:
        return memoryview(self._buf)[: self._pos]


def _write_atomic(directory: str, final_name: str, produce: Callable[[Any], None]) -> tuple[str, int]:
    """Write through `produce(file)` to a temp file in `directory`, fsync, rename, fsync the directory.

    Returns (sha256 hex, size). On any error the temp file is removed and `final_name` is untouched.
    """
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as raw:
            writer = _HashingWriter(raw)
            produce(writer)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, os.path.join(directory, final_name))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    return writer.sha.hexdigest(), writer.size


def _write_json_atomic(directory: str, name: str, obj: Any) -> None:
    data = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
    _write_atomic(directory, name, lambda f: f.write(data))


def _sha256_file(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            sha.update(view[:n])
    return sha.hexdigest()


# ---------------------------------------------------------------------------------------------
# state adapters: dump(file, step) writes a snapshot; load(path) restores it and returns a value


class PickleState:
    """Any picklable object (or a zero-argument callable returning one)."""

    kind = "pickle"
    suffix = ".pkl"

    def __init__(self, obj: Any):
        self.obj = obj

    def dump(self, f, step: int) -> None:
        obj = self.obj() if callable(self.obj) else self.obj
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: str) -> Any:
        with open(path, "rb") as f:
            return pickle.load(f)


class _BytesState:
    kind = "bytes"
    suffix = ".bin"

    def __init__(self, data):
        self.data = data

    def dump(self, f, step: int) -> None:
        f.write(self.data)

    def load(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()


def _as_adapter(state: Any):
    if hasattr(state, "dump") and hasattr(state, "load"):
        return state
    if isinstance(state, (bytes, bytearray, memoryview)):
        return _BytesState(state)
    if callable(state):
        return _as_adapter(state())
    return PickleState(state)


def _capture_host_rng() -> dict:
    rng: dict = {"python": random.getstate()}
    np = sys.modules.get("numpy")
    if np is not None:
        rng["numpy"] = np.random.get_state()
    return rng


def _restore_host_rng(rng: dict | None) -> None:
    if not rng:
        return
    if "python" in rng:
        random.setstate(rng["python"])
    if "numpy" in rng:
        import numpy as np

        np.random.set_state(rng["numpy"])


def _restore_into(target: dict | None, saved: dict | None) -> None:
    """Restore `extra` entries in place: objects with load_state_dict get it, plain values are replaced."""
    if target is None or not saved:
        return
    for key, value in saved.items():
        current = target.get(key)
        if current is not None and hasattr(current, "load_state_dict"):
            current.load_state_dict(value)
        elif current is not None and hasattr(current, "set_state") and hasattr(current, "get_state"):
            current.set_state(value)  # torch.Generator
        else:
            target[key] = value


def _snapshot_extra(extra: dict | None) -> dict | None:
    if extra is None:
        return None
    out = {}
    for key, value in extra.items():
        if hasattr(value, "state_dict"):
            out[key] = value.state_dict()
        elif hasattr(value, "get_state") and hasattr(value, "set_state"):
            out[key] = value.get_state()
        else:
            out[key] = value
    return out


class TorchState:
    """PyTorch: model, optimizer, LR scheduler, `extra` (GradScaler, generators, plain values), RNG states.

    Saved with torch.save as one file; RNG = Python `random`, numpy (if imported), torch CPU and every
    CUDA device when CUDA is available. Pass the unwrapped model (`ddp.module`) so keys stay portable.
    """

    kind = "torch"
    suffix = ".pt"

    def __init__(self, model, optimizer=None, scheduler=None, extra: dict | None = None, *, rng: bool = True,
                 map_location: Any = "cpu"):
        import torch  # noqa: F401  (fail early, with torch's own message, when torch is missing)

        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.extra = extra
        self.rng = rng
        self.map_location = map_location

    def dump(self, f, step: int) -> None:
        import torch

        payload = {
            "rpo_protocol": PROTOCOL_VERSION,
            "step": step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "extra": _snapshot_extra(self.extra),
        }
        if self.rng:
            rng = _capture_host_rng()
            rng["torch"] = torch.get_rng_state()
            if torch.cuda.is_available():
                rng["cuda"] = torch.cuda.get_rng_state_all()
            payload["rng"] = rng
        torch.save(payload, f)

    def load(self, path: str) -> dict:
        import torch

        payload = torch.load(path, map_location=self.map_location)
        self.model.load_state_dict(payload["model"])
        if self.optimizer is not None and payload.get("optimizer") is not None:
            self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload.get("scheduler") is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        _restore_into(self.extra, payload.get("extra"))
        rng = payload.get("rng") if self.rng else None
        if rng:
            _restore_host_rng(rng)
            torch.set_rng_state(rng["torch"])
            if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(rng["cuda"])
        return payload


class SklearnState:
    """scikit-learn: an estimator (any picklable model) + `extra` + Python/numpy RNG, via joblib (or pickle).

    After load, `state.estimator` is the restored estimator (pickling restores a new object).
    """

    suffix = ".joblib"

    def __init__(self, estimator, extra: dict | None = None, *, rng: bool = True, use_joblib: bool | None = None):
        self.estimator = estimator
        self.extra = extra
        self.rng = rng
        if use_joblib is None:
            try:
                import joblib  # noqa: F401

                use_joblib = True
            except ImportError:
                use_joblib = False
        self._joblib = use_joblib
        self.kind = "sklearn-joblib" if use_joblib else "sklearn-pickle"
        if not use_joblib:
            self.suffix = ".pkl"

    def dump(self, f, step: int) -> None:
        payload = {"rpo_protocol": PROTOCOL_VERSION, "step": step, "estimator": self.estimator,
                   "extra": _snapshot_extra(self.extra), "rng": _capture_host_rng() if self.rng else None}
        if self._joblib:
            import joblib

            joblib.dump(payload, f)
        else:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: str) -> Any:
        if self._joblib:
            import joblib

            payload = joblib.load(path)
        else:
            with open(path, "rb") as f:
                payload = pickle.load(f)
        self.estimator = payload["estimator"]
        _restore_into(self.extra, payload.get("extra"))
        if self.rng:
            _restore_host_rng(payload.get("rng"))
        return self.estimator


def _safe_extract(tar: tarfile.TarFile, dest: str) -> None:
    root = os.path.realpath(dest)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(dest, member.name))
        if not (member.isfile() or member.isdir()) or os.path.isabs(member.name) or \
                not (target == root or target.startswith(root + os.sep)):
            raise CheckpointError(f"refusing archive member {member.name!r}")
    if hasattr(tarfile, "data_filter"):  # Python 3.12+ (and backports): the safe filter, no deprecation warning
        tar.extractall(dest, filter="data")
    else:
        tar.extractall(dest)


class DirectoryState:
    """A framework that saves to a directory (HF save_pretrained, TF checkpoints, orbax, ...).

    `save_dir(path)` writes into an empty directory and `load_dir(path)` restores from it; the directory
    is stored as one uncompressed tar so it gets one sha256 and one atomic rename like every checkpoint.
    `keep_extracted` keeps the extracted directory until the process exits (for lazy restorers).
    """

    kind = "tar"
    suffix = ".tar"

    def __init__(self, save_dir: Callable[[str], Any], load_dir: Callable[[str], Any], *, rng: bool = False,
                 keep_extracted: bool = False, tmp_root: str | None = None):
        self.save_dir = save_dir
        self.load_dir = load_dir
        self.rng = rng
        self.keep_extracted = keep_extracted
        self.tmp_root = tmp_root

    def dump(self, f, step: int) -> None:
        work = tempfile.mkdtemp(prefix="rpo-ckpt-", dir=self.tmp_root)
        try:
            content = os.path.join(work, "state")
            os.mkdir(content)
            self.save_dir(content)
            if self.rng:
                with open(os.path.join(content, "rpo-host-rng.pkl"), "wb") as r:
                    pickle.dump(_capture_host_rng(), r)
            with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(content, arcname="state")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def load(self, path: str) -> Any:
        work = tempfile.mkdtemp(prefix="rpo-ckpt-", dir=self.tmp_root)
        try:
            with tarfile.open(path, mode="r:") as tar:
                _safe_extract(tar, work)
            content = os.path.join(work, "state")
            rng_file = os.path.join(content, "rpo-host-rng.pkl")
            if self.rng and os.path.exists(rng_file):
                with open(rng_file, "rb") as r:
                    _restore_host_rng(pickle.load(r))
            return self.load_dir(content)
        finally:
            if self.keep_extracted:
                atexit.register(shutil.rmtree, work, True)
            else:
                shutil.rmtree(work, ignore_errors=True)


def _import_tensorflow():
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError(
            "rpo_checkpoint.TensorFlowState needs TensorFlow, which is not installed in this Python "
            f"({sys.executable}): {exc}. Install tensorflow in the job's environment, or use TorchState, "
            "SklearnState or DirectoryState."
        ) from exc
    return tf


class TensorFlowState(DirectoryState):
    """TensorFlow: a tf.train.Checkpoint (track the model, optimizer, step variable, tf.random.Generator).

    Written with checkpoint.write() into a directory, stored as one tar; restored with checkpoint.read().
    Imports TensorFlow when constructed, with a clear ImportError when it is missing.
    """

    kind = "tensorflow"

    def __init__(self, checkpoint, *, rng: bool = True, tmp_root: str | None = None):
        _import_tensorflow()
        self.checkpoint = checkpoint
        super().__init__(
            save_dir=lambda d: checkpoint.write(os.path.join(d, "ckpt")),
            load_dir=lambda d: checkpoint.read(os.path.join(d, "ckpt")).assert_existing_objects_matched(),
            rng=rng,
            keep_extracted=True,  # TF may restore variables lazily, from the files, when they are created
            tmp_root=tmp_root,
        )


# ---------------------------------------------------------------------------------------------
# the checkpointer


class Checkpointer:
    """Atomic, verified, pruned checkpoints in one directory, with signal-driven save-and-exit.

    Arguments override the environment (RPO_CHECKPOINT_*), which overrides the defaults:
    keep 3, every 600 s (`every_steps`/`every_seconds` = 0 disables periodic saves), SIGUSR2.
    `writer=False` makes saves no-ops (other ranks of a distributed job); default: RANK unset or 0.
    `log` is a text stream (default stderr) or a callable taking one line.
    """

    def __init__(self, dir: str | None = None, keep: int | None = None, every_steps: int | None = None,
                 every_seconds: float | None = None, signal: str | int | None = None, async_save: bool = False,
                 log: Any = None, writer: bool | None = None, env: dict | None = None):
        env = os.environ if env is None else env
        directory = dir or env.get(ENV_DIR)
        if not directory:
            raise CheckpointError(f"no checkpoint directory: pass dir= or set {ENV_DIR}")
        self.dir = os.path.abspath(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.keep = keep if keep is not None else _env_int(env, ENV_KEEP, DEFAULT_KEEP)
        if self.keep < 1:
            raise CheckpointError(f"keep must be at least 1, got {self.keep}")
        env_steps, env_seconds = parse_every(env.get(ENV_EVERY))
        if every_steps is None and every_seconds is None:
            every_steps, every_seconds = env_steps, env_seconds
            if every_steps is None and every_seconds is None:
                every_seconds = DEFAULT_EVERY_SECONDS
        self.every_steps = every_steps or None
        self.every_seconds = every_seconds or None
        self.signal = parse_signal(signal if signal is not None else env.get(ENV_SIGNAL) or DEFAULT_SIGNAL)
        self.async_save = async_save
        self.writer = writer if writer is not None else env.get("RANK", "0") in ("", "0")
        ident = job_identity(env)
        self.attempt, self.restart, self.job_id, self.resuming = (
            ident["attempt"], ident["restart"], ident["job_id"], ident["resuming"])
        self._log_target = log if log is not None else sys.stderr
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._snapshot: _SnapshotBuffer | None = None  # async mode: one buffer, reused by every snapshot
        self._error: BaseException | None = None
        self._stop_signal: int | None = None
        self._stop_reported = False
        self._manifest_problems_said: set[str] = set()
        self._previous_handlers: dict = {}
        self._last_step: int | None = None
        self._last_time = time.monotonic()
        #: seconds spent blocking the caller in save() (snapshot + synchronous write): for overhead reports
        self.blocking_seconds = 0.0
        self.saves = 0

    # -- logging and events --------------------------------------------------------------------

    def log(self, message: str) -> None:
        line = LOG_PREFIX + message
        if callable(self._log_target) and not hasattr(self._log_target, "write"):
            self._log_target(line)
            return
        try:
            self._log_target.write(line + "\n")
            self._log_target.flush()
        except (OSError, ValueError):
            pass

    def event(self, name: str, **fields: Any) -> None:
        """Append one JSON line to events.jsonl in the checkpoint directory (read by rpo)."""
        record = {"protocol": PROTOCOL_VERSION, "time": _now_iso(), "event": name, "attempt": self.attempt,
                  "restart": self.restart, "job_id": self.job_id, "pid": os.getpid(), **fields}
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        try:
            fd = os.open(os.path.join(self.dir, EVENTS_NAME), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # a line an earlier process was killed in the middle of has no newline: start a new
                # line, or this event would be glued to it and lost with it
                size = os.fstat(fd).st_size
                if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            self.log(f"cannot append to {EVENTS_NAME}: {exc}")

    # -- manifest --------------------------------------------------------------------------------

    def entries(self) -> list[dict]:
        """The manifest's entries, oldest first (by seq); rebuilt from sidecars if the manifest is unreadable."""
        path = os.path.join(self.dir, MANIFEST_NAME)
        problem = None
        try:
            with open(path, "rb") as f:
                manifest = json.loads(f.read())
            if not isinstance(manifest, dict) or not isinstance(manifest.get("checkpoints"), list):
                problem = "manifest has no checkpoints list"
            else:
                return sorted((e for e in manifest["checkpoints"] if isinstance(e, dict)),
                              key=lambda e: e.get("seq", 0) if isinstance(e.get("seq"), int) else 0)
        except FileNotFoundError:
            problem = None if not self._sidecars() else "manifest missing"
        except (OSError, ValueError) as exc:
            problem = f"manifest unreadable: {exc}"
        if problem is None:
            return []
        rebuilt = []
        for name in self._sidecars():
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    entry = json.loads(f.read())
                if isinstance(entry, dict):
                    rebuilt.append(entry)
            except (OSError, ValueError):
                continue
        rebuilt.sort(key=lambda e: e.get("seq", 0) if isinstance(e.get("seq"), int) else 0)
        # said once per process: loading and the first save both read the manifest before it is
        # written again, and one damaged manifest is one problem
        if problem not in self._manifest_problems_said:
            self._manifest_problems_said.add(problem)
            self.log(f"{problem}; rebuilt the list from {len(rebuilt)} per-checkpoint sidecar file(s)")
            self.event("checkpoint:manifest-rebuilt", reason=problem, entries=len(rebuilt))
        return rebuilt

    def _sidecars(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dir) if n.startswith("ckpt-") and n.endswith(".json"))
        except FileNotFoundError:
            return []

    def verify(self, entry: dict) -> str | None:
        """None when the entry's file exists with the recorded size and sha256; otherwise why not."""
        name = entry.get("file")
        if not isinstance(name, str) or not _FILE_RE.match(name) or name.endswith(".json"):
            return f"invalid manifest entry (file {name!r})"
        if entry.get("protocol") != PROTOCOL_VERSION:
            return f"unsupported protocol {entry.get('protocol')!r} (this helper speaks {PROTOCOL_VERSION})"
        if not isinstance(entry.get("size"), int) or not isinstance(entry.get("sha256"), str):
            return "invalid manifest entry (size or sha256 missing)"
        path = os.path.join(self.dir, name)
        try:
            size = os.stat(path).st_size
            if size < entry["size"]:
                return f"truncated: {size} bytes on disk, manifest says {entry['size']}"
            if size != entry["size"]:
                return f"size mismatch: {size} bytes on disk, manifest says {entry['size']}"
            digest = _sha256_file(path)
        except FileNotFoundError:
            return "missing: the file is gone"
        except OSError as exc:
            return f"unreadable: {exc}"
        if digest != entry["sha256"]:
            return f"sha256 mismatch: file hashes to {digest[:16]}…, manifest says {entry['sha256'][:16]}… (corrupted)"
        return None

    # -- save ----------------------------------------------------------------------------------

    def save(self, step: int, state: Any, *, blocking: bool | None = None) -> dict | None:
        """Save `state` (an adapter, bytes, a picklable object or a callable returning one) as `step`.

        Blocking: returns the manifest entry once the checkpoint is durable. Async: snapshots to memory,
        writes in a background thread (waiting first for a previous write) and returns None; an error of
        that write is raised by the next save()/maybe_save()/wait()/exit_for_resume().
        """
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise CheckpointError(f"step must be a non-negative int, got {step!r}")
        self.wait()
        blocking = (not self.async_save) if blocking is None else blocking
        adapter = _as_adapter(state)
        self._last_step = step
        if not self.writer:
            self._last_time = time.monotonic()
            return None
        started = time.perf_counter()
        if blocking:
            try:
                return self._write(step, adapter, lambda f: adapter.dump(f, step), started, False)
            finally:
                self.blocking_seconds += time.perf_counter() - started
                self._last_time = time.monotonic()  # the interval counts training time, not saving time
        if self._snapshot is None:
            self._snapshot = _SnapshotBuffer()
        self._snapshot.reset()
        adapter.dump(self._snapshot, step)
        data = self._snapshot.view()
        self.blocking_seconds += time.perf_counter() - started
        self._last_time = time.monotonic()
        self._thread = threading.Thread(target=self._background, args=(step, adapter, data, started),
                                        name="rpo-checkpoint-writer")
        self._thread.start()
        return None

    def _background(self, step: int, adapter, data, started: float) -> None:
        try:
            self._write(step, adapter, lambda f: f.write(data), started, True)
        except BaseException as exc:  # surfaced on the caller's next call
            self._error = exc
        finally:
            data.release()

    def wait(self) -> None:
        """Wait for an asynchronous save; raise CheckpointError if it failed."""
        thread = self._thread
        if thread is not None:
            thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise CheckpointError(f"checkpoint save failed: {error}") from error

    def _write(self, step: int, adapter, produce, started: float, background: bool) -> dict:
        with self._lock:
            try:
                self._remove_temp_files()
                entries = self.entries()
                seq = max([e["seq"] for e in entries if isinstance(e.get("seq"), int)], default=0) + 1
                name = f"ckpt-{step:010d}-{seq:06d}{getattr(adapter, 'suffix', '.bin')}"
                sha, size = _write_atomic(self.dir, name, produce)
                entry = {"file": name, "sha256": sha, "size": size, "step": step, "time": _now_iso(),
                         "attempt": self.attempt, "restart": self.restart, "job_id": self.job_id, "seq": seq,
                         "kind": getattr(adapter, "kind", "bytes"), "protocol": PROTOCOL_VERSION}
                _write_json_atomic(self.dir, name + ".json", entry)
                entries.append(entry)
                kept, pruned = entries[-self.keep:], entries[:-self.keep]
                _write_json_atomic(self.dir, MANIFEST_NAME, {
                    "format": MANIFEST_FORMAT, "protocol": PROTOCOL_VERSION, "updated": entry["time"],
                    "keep": self.keep, "checkpoints": kept})
                self._remove_unreferenced(kept)
            except BaseException as exc:
                self.log(f"saving step {step} failed: {type(exc).__name__}: {exc}")
                self.event("checkpoint:save-failed", step=step, reason=f"{type(exc).__name__}: {exc}")
                raise
        seconds = time.perf_counter() - started
        self.saves += 1
        self.log(f"saved {name} (step {step}, {size / 1e6:.1f} MB, {seconds:.2f} s"
                 f"{', async' if background else ''})")
        self.event("checkpoint:saved", file=name, step=step, size=size, sha256=sha, seconds=round(seconds, 4),
                   background=background, pruned=[e.get("file") for e in pruned])
        return entry

    def _remove_temp_files(self) -> None:
        for name in os.listdir(self.dir):
            if name.startswith(".tmp-"):
                try:
                    os.unlink(os.path.join(self.dir, name))
                except OSError:
                    pass

    def _remove_unreferenced(self, kept: list[dict]) -> None:
        keep_names = set()
        for e in kept:
            if isinstance(e.get("file"), str):
                keep_names.update((e["file"], e["file"] + ".json"))
        removed = False
        for name in os.listdir(self.dir):
            if name.startswith("ckpt-") and name not in keep_names:
                try:
                    os.unlink(os.path.join(self.dir, name))
                    removed = True
                except OSError:
                    pass
        if removed:
            _fsync_dir(self.dir)

    # -- load ----------------------------------------------------------------------------------

    def load_latest(self, loader: Any = None) -> Restored | None:
        """Restore from the newest checkpoint whose size and sha256 verify and whose loader succeeds.

        `loader`: an adapter (its load(path)), a callable(path), or None (only find the path). A bad
        checkpoint is reported (stderr line + `checkpoint:skipped` event) and the previous one tried.
        Returns None, after a `checkpoint:none` event, when no checkpoint is usable: start fresh.
        """
        self.wait()
        load = loader.load if hasattr(loader, "load") else loader
        entries = self.entries()
        skipped = 0
        for entry in reversed(entries):
            started = time.perf_counter()
            reason = self.verify(entry)
            value = None
            path = os.path.join(self.dir, str(entry.get("file")))
            if reason is None and load is not None:
                try:
                    value = load(path)
                except Exception as exc:
                    reason = f"load failed: {type(exc).__name__}: {exc}"
            if reason is not None:
                skipped += 1
                self.log(f"skipping {entry.get('file')}: {reason}")
                self.event("checkpoint:skipped", file=entry.get("file"), step=entry.get("step"), reason=reason)
                continue
            seconds = time.perf_counter() - started
            self._last_step = entry["step"]
            self._last_time = time.monotonic()
            self.log(f"resuming from {entry['file']} (step {entry['step']}, {seconds:.2f} s"
                     f"{f', after skipping {skipped}' if skipped else ''})")
            self.event("checkpoint:loaded", file=entry["file"], step=entry["step"], seconds=round(seconds, 4),
                       skipped=skipped)
            return Restored(step=entry["step"], path=path, entry=entry, value=value)
        if entries:
            self.log(f"no usable checkpoint ({skipped} skipped); starting fresh")
        elif self.resuming:
            self.log("resume requested but the checkpoint directory holds no checkpoint; starting fresh")
        else:
            self.log("no checkpoint yet; starting fresh")
        self.event("checkpoint:none", skipped=skipped, resuming=self.resuming)
        return None

    # -- signals and the loop ------------------------------------------------------------------

    def install_signal_handler(self, signals: Any = None) -> None:
        """Handle the checkpoint signal (and any extra `signals`): set a flag the loop polls."""
        if not self._previous_handlers:
            atexit.register(self._ignore_signals_at_exit)
        for sig in [self.signal, *(parse_signal(s) for s in (signals or ()))]:
            if sig not in self._previous_handlers:
                self._previous_handlers[sig] = _signal.signal(sig, self._on_signal)

    def _ignore_signals_at_exit(self) -> None:
        # Python's finalization puts a Python-level handler back to SIG_DFL (it keeps SIG_IGN), and a
        # framework's teardown can take seconds: the signal arriving then would kill a job that has
        # finished its work (a successful run reported as "killed by SIGUSR2"). Exiting, a stop
        # request asks for nothing more, so it is ignored.
        for sig in self._previous_handlers:
            _signal.signal(sig, _signal.SIG_IGN)

    def uninstall_signal_handler(self) -> None:
        for sig, previous in self._previous_handlers.items():
            _signal.signal(sig, previous)
        self._previous_handlers.clear()

    def _on_signal(self, signum, frame) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum

    def request_stop(self) -> None:
        """Ask for a checkpoint-and-exit at the next maybe_save()/should_stop(), as the signal does."""
        if self._stop_signal is None:
            self._stop_signal = 0

    def should_stop(self) -> bool:
        """True once the signal (or request_stop) arrived: save, then exit_for_resume()."""
        if self._stop_signal is None:
            return False
        if not self._stop_reported:
            self._stop_reported = True
            what = _signal.Signals(self._stop_signal).name if self._stop_signal else "request_stop()"
            self.log(f"received {what}: checkpointing and exiting with {EXIT_RESUME} (resume me)")
            self.event("checkpoint:signal", signal=what)
        return True

    def is_due(self, step: int) -> bool:
        if self.should_stop():
            return self._last_step != step
        if self._last_step == step:
            return False
        if self.every_steps and step % self.every_steps == 0:
            return True
        return bool(self.every_seconds and time.monotonic() - self._last_time >= self.every_seconds)

    def maybe_save(self, step: int, state: Any) -> bool:
        """Save when due (every N steps / seconds) or at once, blocking, after the stop signal.

        `state` may be a zero-argument callable, called only when a save happens. Returns True if saved.
        """
        if self._error is not None:
            self.wait()
        if not self.is_due(step):
            return False
        self.save(step, state, blocking=True if self.should_stop() else None)
        return True

    def exit_for_resume(self, step: int | None = None, state: Any = None) -> None:
        """Finish saving (save `state` at `step` first if given and not saved), then exit EXIT_RESUME.

        If the save failed, CheckpointError propagates instead: the job fails rather than asking to be
        resumed from a checkpoint it could not write.
        """
        if step is not None and state is not None and self._last_step != step:
            self.save(step, state, blocking=True)
        self.wait()
        self.event("checkpoint:exit", code=EXIT_RESUME, step=self._last_step)
        self.log(f"exiting with {EXIT_RESUME} after step {self._last_step}: checkpointed, please resume")
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        sys.exit(EXIT_RESUME)

    def __enter__(self) -> "Checkpointer":
        self.install_signal_handler()
        return self

    def __exit__(self, *exc_info) -> None:
        self.uninstall_signal_handler()
        if exc_info[0] is None or exc_info[0] is SystemExit:
            self.wait()


# ---------------------------------------------------------------------------------------------
# command line, for shell jobs


class _FileState:
    kind = "file"

    def __init__(self, path: str):
        self.path = path
        ext = os.path.splitext(path)[1]
        # never ".json": that suffix marks the per-checkpoint sidecar files
        self.suffix = ext if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", ext) and ext.lower() != ".json" else ".bin"

    def dump(self, f, step: int) -> None:
        with open(self.path, "rb") as src:
            shutil.copyfileobj(src, f, _CHUNK)

    def load(self, path: str) -> str:
        return path


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="rpo_checkpoint.py", description=f"rpo checkpoint protocol {PROTOCOL_VERSION}")
    parser.add_argument("--dir", default=None, help=f"checkpoint directory (default ${ENV_DIR})")
    sub = parser.add_subparsers(dest="command", required=True)
    commit = sub.add_parser("commit", help="publish FILE as the checkpoint for STEP (atomic, hashed, pruned)")
    commit.add_argument("--step", type=int, required=True)
    commit.add_argument("--keep", type=int, default=None)
    commit.add_argument("file")
    latest = sub.add_parser("latest", help=f"print the newest verified checkpoint's path (exit {EXIT_NO_CHECKPOINT}: none)")
    latest.add_argument("--json", action="store_true", help="print its manifest entry as JSON instead")
    sub.add_parser("list", help="every manifest entry with its verification result, as JSON lines")
    args = parser.parse_args(argv)
    try:
        ckpt = Checkpointer(dir=args.dir, keep=getattr(args, "keep", None), every_seconds=0)
    except CheckpointError as exc:
        print(LOG_PREFIX + str(exc), file=sys.stderr)
        return 2
    if args.command == "commit":
        if not os.path.isfile(args.file):
            print(f"{LOG_PREFIX}no such file: {args.file}", file=sys.stderr)
            return 2
        entry = ckpt.save(args.step, _FileState(args.file), blocking=True)
        print(os.path.join(ckpt.dir, entry["file"]) if entry else "")
        return 0
    if args.command == "latest":
        restored = ckpt.load_latest(None)
        if restored is None:
            return EXIT_NO_CHECKPOINT
        print(json.dumps(restored.entry, sort_keys=True) if args.json else restored.path)
        return 0
    for entry in ckpt.entries():
        print(json.dumps({**entry, "problem": ckpt.verify(entry)}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
