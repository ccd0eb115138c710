"""Helpers for tests that drive the real program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_parrot(args: list[str], *, stdin: bytes | None = b"", env: dict | None = None, timeout: float = 300):
    """Run the real ``parrot`` program in a subprocess, as a script would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "repl", *args], input=stdin, capture_output=True,
                          cwd=ROOT, env=full_env, timeout=timeout)
