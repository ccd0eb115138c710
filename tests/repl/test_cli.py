"""The ``parrot`` command line: help and bad input on every subcommand, through the real program."""

import pytest

from helpers import run_parrot
from repl.cli import SUBCOMMANDS


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_answers_help(name):
    result = run_parrot([name, "--help"])
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().startswith(f"usage: parrot {name}")
    assert b"Traceback" not in result.stderr
