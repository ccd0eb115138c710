"""The ``parrot`` command line: help and bad input on every subcommand, through the real program."""

import pytest

from repl.cli.main import SUBCOMMANDS
from tests.support.helpers import run_parrot


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_answers_help(name):
    result = run_parrot([name, "--help"])
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().startswith(f"usage: parrot {name}")
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("flag, value, allowed", [
    ("--device", "tpu", "cuda:N"),
    ("--dtype", "int3", "float32"),
    ("--quantize", "int2", "int8"),
])
def test_an_unknown_speed_option_is_a_usage_error_naming_the_choices(tiny_llama, flag, value, allowed):
    result = run_parrot(["-m", str(tiny_llama), flag, value, "-p", "hi"])
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and value in lines[0] and allowed in lines[0]


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_history_refuses_a_limit_below_one(limit, parrot_home):
    result = run_parrot(["history", "-n", limit])
    assert result.returncode == 2 and result.stdout == b""
    assert "-n must be at least 1" in result.stderr.decode()
