"""Shared fixtures: an isolated PARROT_HOME for every test, and tiny real models built once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from tests.support.tiny_models import build_tiny_gpt2, build_tiny_llama

# Fixtures for a local HTTP server, keyrings and a Hub-shaped server, for every test that names them.
pytest_plugins = ["tests.support.hosted_fixtures", "tests.support.hub_fixtures"]

# A shell that starts the tests in the background (`make test &`) ignores SIGINT for them, and an ignored
# signal stays ignored in every program they start: the tests that press Ctrl-C would see nothing happen.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def parrot_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own parrot folders and never touches the real home or the Hub."""
    home = tmp_path / "parrot-home"
    monkeypatch.setenv("PARROT_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_llama_backend(tiny_llama):
    """A loaded chat backend, shared: loading is the slow part, generation is cheap."""
    from backends.local.backend import LocalBackend

    backend = LocalBackend(str(tiny_llama), device="cpu")
    backend.load()
    return backend


@pytest.fixture(scope="session")
def tiny_gpt2_backend(tiny_gpt2):
    from backends.local.backend import LocalBackend

    backend = LocalBackend(str(tiny_gpt2), device="cpu")
    backend.load()
    return backend

