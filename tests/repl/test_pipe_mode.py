"""Pipe mode through the real program in a subprocess: stdout carries the answer and nothing else."""

import json
import subprocess
import sys

import pytest

from repl.modes.oneshot import compose, read_stdin
from tests.support.helpers import ROOT, run_parrot


def test_piped_code_is_continued_on_stdout_only(tiny_gpt2):
    first = run_parrot(["-m", str(tiny_gpt2), "--greedy", "-n", "12"], stdin=b"def add(a, b):\n")
    assert first.returncode == 0, first.stderr.decode()
    assert first.stdout.strip(), "an answer is printed"
    assert b"Traceback" not in first.stderr
    second = run_parrot(["-m", str(tiny_gpt2), "--greedy", "-n", "12"], stdin=b"def add(a, b):\n")
    assert second.stdout == first.stdout, "greedy answers are identical across runs"


def test_json_output_has_text_counts_timing_and_settings(tiny_gpt2):
    from transformers import AutoTokenizer

    result = run_parrot(["-m", str(tiny_gpt2), "--json", "--greedy", "-n", "6", "explain this"],
                        stdin=b"x = 1\n")
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    assert set(data) >= {"text", "backend", "model", "finish_reason", "stats", "settings"}
    assert data["settings"]["max_new_tokens"] == 6 and data["settings"]["greedy"] is True
    stats = data["stats"]
    assert 0 < stats["completion_tokens"] <= 6
    assert stats["seconds"] > 0 and stats["time_to_first_token"] is not None
    # The piped file comes first, then the question, as one prompt.
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    assert stats["prompt_tokens"] == len(tokenizer("x = 1\n\nexplain this").input_ids)


@pytest.mark.parametrize("args, words", [
    (["--temperature", "-1", "-p", "hi"], "temperature"),
    (["--top-p", "nan", "-p", "hi"], "top_p"),
    (["-n", "0", "-p", "hi"], "max_new_tokens"),
    (["--json"], "nothing to answer"),
])
def test_usage_errors_exit_2_with_one_line(args, words):
    result = run_parrot(args, stdin=b"")
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("parrot: ")


def test_unknown_flag_is_a_usage_error():
    result = run_parrot(["--no-such-flag"], stdin=b"")
    assert result.returncode == 2 and b"--no-such-flag" in result.stderr


def test_missing_model_is_a_backend_failure_with_a_hint():
    result = run_parrot(["-m", "./no-such-model-folder", "-p", "hi"], stdin=b"")
    assert result.returncode == 1
    assert result.stdout == b""
    message = result.stderr.decode().strip()
    assert "no such folder" in message and "\n" not in message


def test_invalid_utf8_is_replaced_and_reported(tiny_gpt2):
    result = run_parrot(["-m", str(tiny_gpt2), "--greedy", "-n", "4"], stdin=b"caf\xe9 \xff\xfe ok\n")
    assert result.returncode == 0, result.stderr.decode()
    assert b"not valid UTF-8" in result.stderr and b"Traceback" not in result.stderr


def test_read_stdin_counts_replacements():
    import io

    err = io.StringIO()
    text = read_stdin(io.BytesIO(b"ok \xff and \xc3"), err)
    assert text == "ok \ufffd and \ufffd"
    assert "2 invalid" in err.getvalue()


def test_compose_puts_the_file_before_the_question():
    assert compose("explain this", "print(1)\n") == "print(1)\n\nexplain this"
    assert compose(None, "def add(a, b):\n") == "def add(a, b):"


def test_a_reader_that_leaves_early_ends_the_answer_quietly(tiny_gpt2):
    process = subprocess.Popen([sys.executable, "-m", "repl", "-m", str(tiny_gpt2), "-n", "2000", "-p", "def f():"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.read(1)  # `parrot ... | head -c 1`
    process.stdout.close()
    assert process.wait(timeout=300) == 0
    assert process.stderr.read() == b""
