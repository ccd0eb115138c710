"""Bad paths and files for /save, /export, /load and --script: one line each, the chat stays up,
nothing on disk is lost or replaced, the stored conversation is intact."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.support.hostile_modes import assert_one_line, run_mode, seed_conversation, stored_turns

CHAT_MODES = ("app", "plain", "script")


def check_after(outcome, conversation, *needles, script_code=2):
    line = assert_one_line(outcome, *needles, code=script_code if outcome.mode == "script" else None)
    if outcome.mode == "app":
        assert outcome.running  # the chat stays up
    if outcome.mode == "plain":
        assert outcome.code == 0  # the REPL went on to the end of its input
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]
    return line


@pytest.mark.parametrize("mode", CHAT_MODES)
@pytest.mark.parametrize("command", ["/save", "/export md", "/export jsonl"])
def test_writing_into_a_folder_that_does_not_exist(command, mode, tmp_path, model_args):
    conversation = seed_conversation()
    target = tmp_path / "no" / "such" / "folder" / "x.json"
    outcome = run_mode(mode, [f"{command} {target}"], [*model_args, "--continue"])
    check_after(outcome, conversation, "does not exist")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_writing_under_proc_is_one_line(mode, model_args):
    conversation = seed_conversation()
    outcome = run_mode(mode, ["/save /proc/forbidden/x.json"], [*model_args, "--continue"])
    check_after(outcome, conversation, "/proc/forbidden")


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_writing_onto_a_folder(mode, tmp_path, model_args):
    conversation = seed_conversation()
    outcome = run_mode(mode, [f"/export md {tmp_path}"], [*model_args, "--continue"])
    check_after(outcome, conversation, "is a folder")
    assert tmp_path.is_dir()


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_a_read_only_target_is_not_overwritten(mode, tmp_path, model_args):
    conversation = seed_conversation()
    target = tmp_path / "precious.md"
    target.write_text("precious\n")
    target.chmod(0o444)
    outcome = run_mode(mode, [f"/export md {target}"], [*model_args, "--continue"])
    check_after(outcome, conversation, "read-only")
    assert target.read_text() == "precious\n" and stat.S_IMODE(target.stat().st_mode) == 0o444


@pytest.mark.parametrize("mode", ["plain", "script"])
def test_a_symlink_is_written_through_and_kept(mode, tmp_path, model_args):
    seed_conversation()
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    outcome = run_mode(mode, [f"/save {link}"], [*model_args, "--continue"])
    assert outcome.code == 0, outcome.text
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link is still a link
    assert json.loads(real.read_text())["turns"][0]["content"] == "keep me"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # an existing file keeps its mode


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_a_full_disk_is_one_line_and_leaves_no_temp_file(mode, small_disk, model_args):
    conversation = seed_conversation(("keep me " + "x" * 200_000, "kept"))
    outcome = run_mode(mode, [f"/save {small_disk}/x.json"], [*model_args, "--continue"])
    assert_one_line(outcome, "disk is full", code=2 if mode == "script" else None)
    assert list(small_disk.iterdir()) == []  # the half-written temporary file is gone
    assert stored_turns(conversation)[1] == ("assistant", "kept")


LOADS = {
    "missing": (lambda d: d / "missing.json", ("no such file",)),
    "folder": (lambda d: d, ("is a folder",)),
    "not-json": (lambda d: _write(d / "a.json", "{nope"), ("not JSON",)),
    "no-turns": (lambda d: _write(d / "b.json", '{"title": "x"}'), ("no list of turns",)),
    "wrong-turns": (lambda d: _write(d / "c.json", '{"turns": [1, 2]}'), ("turn 1",)),
    "a-list": (lambda d: _write(d / "d.json", "[1, 2]"), ("no list of turns",)),
    "binary": (lambda d: _write(d / "e.json", b"\x00\xff\xfe" * 100), ("UTF-8",)),
}


def _write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize("mode", CHAT_MODES)
@pytest.mark.parametrize("case", LOADS)
def test_load_refuses_what_is_not_a_saved_conversation(case, mode, tmp_path, model_args):
    conversation = seed_conversation()
    make, needles = LOADS[case]
    path = make(tmp_path)
    outcome = run_mode(mode, [f"/load {path}"], [*model_args, "--continue"])
    line = check_after(outcome, conversation, *needles)
    assert "'turns'" not in line and "KeyError" not in line  # no Python reprs


@pytest.mark.parametrize("mode", CHAT_MODES)
@pytest.mark.parametrize("number", ["99999999999999999999999", "²"])
def test_load_of_a_strange_number(number, mode, model_args):
    conversation = seed_conversation()
    outcome = run_mode(mode, [f"/load {number}"], [*model_args, "--continue"])
    check_after(outcome, conversation, "conversation" if number.isascii() else "")


@pytest.mark.parametrize("what", ["missing", "folder", "not-utf8"])
def test_script_file_problems(what, tmp_path, model_args):
    from tests.support.helpers import run_parrot

    path = {"missing": tmp_path / "nope.txt", "folder": tmp_path,
            "not-utf8": _write(tmp_path / "s.txt", b"/settings\n\xff\xfe bad bytes\n")}[what]
    result = run_parrot(["--script", str(path), *model_args, "-n", "2"])
    err = result.stderr.decode()
    assert "Traceback" not in err
    if what == "not-utf8":  # replaced and reported, as one-shot mode does with stdin; the script runs
        assert "not valid UTF-8" in err and result.returncode == 0, err
        assert "max_new_tokens" in result.stdout.decode()
    else:
        assert result.returncode == 2 and len(err.strip().splitlines()) == 1, err
