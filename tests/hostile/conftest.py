"""Fixtures for the hostile-input suite: the arguments that point parrot at a tiny real model."""

from __future__ import annotations

import os
import subprocess

import pytest


@pytest.fixture
def model_args(tiny_llama) -> list[str]:
    return ["-m", str(tiny_llama), "--device", "cpu", "--greedy", "-n", "4"]


@pytest.fixture(scope="session")
def slow_llama(tmp_path_factory):
    """A Llama wide and deep enough that reading a prompt of thousands of tokens takes seconds."""
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("slow-llama"), max_positions=16384, hidden=256, layers=4)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KB file system (tmpfs), to fill up; only where this user may mount one."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode:
        pytest.skip("mounting a small file system needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
