"""Shared helpers for the checkpoint helper's unittest suites (not a test module itself)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TEMPLATES = os.path.join(REPO, "templates", "checkpoint")
EXAMPLES = os.path.join(TEMPLATES, "examples")
MODULE = os.path.join(TEMPLATES, "rpo_checkpoint.py")
if TEMPLATES not in sys.path:
    sys.path.insert(0, TEMPLATES)

import rpo_checkpoint as rc  # noqa: E402

#: the environment of a first attempt outside any scheduler
FRESH_ENV: dict = {}


def subprocess_env(**overrides) -> dict:
    """os.environ without any RPO_*/SLURM_* variable of the caller, plus overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RPO_", "SLURM_", "PBS_"))}
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class TempDirCase(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="rpo-ckpt-test-")
        self.dir = os.path.join(self.tmp, "ck")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def make(self, **kwargs) -> "rc.Checkpointer":
        kwargs.setdefault("dir", self.dir)
        kwargs.setdefault("env", FRESH_ENV)
        kwargs.setdefault("log", io.StringIO())
        return rc.Checkpointer(**kwargs)

    def events(self) -> list:
        path = os.path.join(self.dir, rc.EVENTS_NAME)
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def manifest(self) -> dict:
        with open(os.path.join(self.dir, rc.MANIFEST_NAME)) as f:
            return json.load(f)

    def newest_path(self, ckpt) -> str:
        return os.path.join(self.dir, ckpt.entries()[-1]["file"])


@contextlib.contextmanager
def captured_stderr():
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        yield buf


def flip_byte(path: str, offset: int | None = None) -> None:
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        where = size // 2 if offset is None else offset
        f.seek(where)
        byte = f.read(1)
        f.seek(where)
        f.write(bytes([byte[0] ^ 0x01]))


def truncate(path: str, keep_fraction: float = 0.5) -> None:
    size = os.path.getsize(path)
    os.truncate(path, int(size * keep_fraction))
