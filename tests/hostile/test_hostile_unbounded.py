"""Input without end or of great size: refused at once within a limit, or trimmed to the model's
window and said so; never a MemoryError or a hang."""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import pytest

from tests.support.hostile_modes import ROOT, assert_one_line, run_mode, seed_conversation, stored_turns


def run_with_stdin_from(path: str, argv: list[str], timeout: float = 120):
    def limit_memory():  # a run that read without a limit would die here instead of the machine
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    with open(path, "rb") as stdin:
        return subprocess.run([sys.executable, "-m", "repl", *argv], stdin=stdin, capture_output=True,
                              cwd=ROOT, timeout=timeout, preexec_fn=limit_memory)


@pytest.mark.parametrize("argv", [[], ["explain this"], ["--script", "-"], ["tokens"]])
def test_stdin_from_dev_zero_is_refused_within_a_limit(argv, model_args):
    started = time.monotonic()
    result = run_with_stdin_from("/dev/zero", [*argv, *model_args] if argv != ["tokens"] else argv)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "Traceback" not in err and "MemoryError" not in err and len(err.strip().splitlines()) == 1, err
    assert "MiB" in err
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("mode", ["app", "plain", "script"])
def test_load_of_a_huge_file_is_refused_by_its_size(mode, tmp_path, model_args):
    conversation = seed_conversation()
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(2 << 30)  # 2 GB, sparse
    outcome = run_mode(mode, [f"/load {huge}"], [*model_args, "--continue"])
    assert_one_line(outcome, "limit for a", code=2 if mode == "script" else None)
    assert stored_turns(conversation) == [("user", "keep me"), ("assistant", "kept")]


LONG = {"200KB-line": "x" * 200_000, "40k-words": " ".join(["word"] * 40_000)}


@pytest.mark.parametrize("mode", ["script", "oneshot"])
@pytest.mark.parametrize("case", LONG)
def test_a_prompt_far_over_the_window_finishes_and_says_it_was_cut(case, mode, model_args):
    started = time.monotonic()
    outcome = run_mode(mode, [LONG[case]], model_args, timeout=300)
    assert "Traceback" not in outcome.text
    assert outcome.code in (0, None), outcome.text
    assert_one_line(outcome, "context window")
    assert time.monotonic() - started < 240
    if mode != "oneshot":
        turns = stored_turns()
        assert turns[0] == ("user", LONG[case]) and turns[1][0] == "assistant"  # stored whole


@pytest.mark.parametrize("mode", ["script"])
def test_a_100kb_system_prompt_finishes_and_says_it_was_cut(mode, model_args):
    outcome = run_mode(mode, ["/system " + "rule " * 20_000, "hello"], model_args, timeout=300)
    assert outcome.code == 0 and "Traceback" not in outcome.text, outcome.text
    assert_one_line(outcome, "context window")


def test_script_line_longer_than_the_limit_is_refused(model_args):
    from tests.support.helpers import run_parrot

    result = run_parrot(["--script", "-", *model_args], stdin=b"/settings\n" + b"y" * (2 << 20) + b"\n")
    err = result.stderr.decode()
    assert result.returncode == 2 and "longer than" in err and len(err.strip().splitlines()) == 1, err
    assert "max_new_tokens" in result.stdout.decode()  # the lines before it ran
