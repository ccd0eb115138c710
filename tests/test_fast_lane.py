"""The fast lane: tests/conftest.py marks a test slow from what its code, fixtures and helpers use."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.helpers import run_parrot


def parrot_help() -> str:
    """A helper of this file that starts parrot: the tests that call it are slow."""
    return run_parrot(["--help"]).stdout.decode()


@pytest.fixture
def python_version() -> str:
    """A fixture that starts a program: the tests that use it are slow."""
    return subprocess.run([sys.executable, "--version"], capture_output=True, text=True, check=True).stdout


def test_a_test_that_starts_parrot_through_a_helper_is_slow(request):
    assert parrot_help().startswith("usage: parrot")
    assert request.node.get_closest_marker("slow"), "`make test-fast` would start parrot"


def test_a_fixture_that_starts_a_program_makes_its_tests_slow(python_version, request):
    assert python_version.startswith("Python 3.")
    assert request.node.get_closest_marker("slow"), "`make test-fast` would start a program"


def test_a_test_that_starts_nothing_runs_in_the_fast_lane(request):
    assert request.node.get_closest_marker("slow") is None, "`make test-fast` would leave this test out"
