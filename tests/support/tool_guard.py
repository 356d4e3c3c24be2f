"""Tests not marked ``slow`` get no ffmpeg, ffprobe or Piper: one that reaches for them fails loudly.

The fast suite (``-m "not slow and not cluster"``) must pass on a machine without ffmpeg. Rather
than trusting every author to remember the mark, each unmarked test runs (setup, call and
teardown) with stand-ins for ffmpeg and ffprobe first on PATH, which every child process inherits,
and with Piper's import blocked. The stand-ins exit 127 and say which mark is missing. Tests
marked ``cluster`` are left alone: they never run in the fast suite.
"""

from __future__ import annotations

import atexit
import importlib.abc
import os
import shutil
import sys
import tempfile
from collections.abc import Generator, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

import pytest

GUARDED_PROGRAMS = ("ffmpeg", "ffprobe")
GUARDED_MODULE = "piper"
MISSING_MARK = "this test is not marked slow, so it may not run {what} (add @pytest.mark.slow)"


class _PiperBlocker(importlib.abc.MetaPathFinder):
    """Refuses to import Piper (and onnxruntime behind it) for an unmarked test."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == GUARDED_MODULE or fullname.startswith(GUARDED_MODULE + "."):
            raise ImportError(MISSING_MARK.format(what="Piper"), name=fullname)
        return None


def _stand_in_dir() -> Path:
    """A directory of ffmpeg/ffprobe stand-ins that fail with the reason (made once per process)."""
    root = Path(tempfile.mkdtemp(prefix="reelkube-no-media-tools-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for program in GUARDED_PROGRAMS:
        script = root / program
        message = MISSING_MARK.format(what=program)
        script.write_text(f"#!/bin/sh\necho '{program}: {message}' >&2\nexit 127\n")
        script.chmod(0o755)
    return root


_stand_ins: Path | None = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Run an unmarked test without ffmpeg, ffprobe and Piper."""
    if item.get_closest_marker("slow") is not None or item.get_closest_marker("cluster") is not None:
        return (yield)
    global _stand_ins
    if _stand_ins is None:
        _stand_ins = _stand_in_dir()
    # A voice loaded by an earlier slow test stays cached in the process; hide the module too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{_stand_ins}{os.pathsep}{os.environ.get('PATH', '')}")
        patch.setattr(sys, "meta_path", [_PiperBlocker(), *sys.meta_path])
        if GUARDED_MODULE in sys.modules:  # a submodule is never loaded without its package
            for name in [m for m in sys.modules if m == GUARDED_MODULE or m.startswith(GUARDED_MODULE + ".")]:
                patch.delitem(sys.modules, name)
        return (yield)
