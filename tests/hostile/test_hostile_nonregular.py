"""Devices, FIFOs and sockets named as files: refused at once, in one line, and never replaced."""

from __future__ import annotations

import os
import socket
import stat
import time

import pytest

from tests.support.hostile_modes import assert_one_line, run_mode, seed_conversation, stored_turns

CHAT_MODES = ("app", "plain", "script")


@pytest.mark.parametrize("mode", CHAT_MODES)
@pytest.mark.parametrize("command", ["/save /dev/full", "/export md /dev/full", "/export jsonl /dev/null"])
def test_a_device_is_never_replaced_by_a_file(command, mode, model_args):
    conversation = seed_conversation()
    device = command.split()[-1]
    before = os.stat(device)
    outcome = run_mode(mode, [command], [*model_args, "--continue"])
    assert_one_line(outcome, "character device", code=2 if mode == "script" else None)
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]


@pytest.mark.parametrize("mode", CHAT_MODES)
@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "socket"])
def test_load_refuses_what_is_not_a_regular_file_at_once(kind, mode, tmp_path, model_args):
    conversation = seed_conversation()
    path = tmp_path / "thing"
    if kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    started = time.monotonic()
    outcome = run_mode(mode, [f"/load {path}"], [*model_args, "--continue"])
    assert_one_line(outcome, "not a regular file", code=2 if mode == "script" else None)
    assert time.monotonic() - started < 60
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "dev-null"])
def test_script_refuses_a_file_that_is_not_regular(kind, tmp_path, model_args):
    from tests.support.helpers import run_parrot

    path = {"dev-zero": "/dev/zero", "dev-null": "/dev/null", "fifo": tmp_path / "fifo"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    result = run_parrot(["--script", str(path), *model_args], timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 2 and "not a regular file" in err and len(err.strip().splitlines()) == 1, err
