"""Fixtures for the hosted-backend tests, loaded by tests/conftest.py:
a real HTTP server on 127.0.0.1, an in-memory OS keyring, a machine with no keyring, a private HF_HOME."""

from __future__ import annotations

import keyring
import keyring.backends.fail
import pytest

from tests.support.memory_keyring import MemoryKeyring
from tests.support.openai_server import FakeServer


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 (port chosen by the OS) that speaks the OpenAI and TGI APIs."""
    srv = FakeServer()
    yield srv
    srv.stop()


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """HF_HOME in a temporary folder, so the real `hf auth login` token file is never read."""
    home = tmp_path / "hf-home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_TOKEN_PATH", raising=False)
    return home


@pytest.fixture
def memory_keyring(hf_home):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring(hf_home):
    """A headless Linux machine: keyring's fail backend, which raises NoKeyringError on every call."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)
