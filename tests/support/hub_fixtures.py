"""Fixtures for tests that reach the Hub, loaded by tests/conftest.py.

``hub`` starts a Hub-shaped server on 127.0.0.1 (tests/support/hub_server.py) and stops it afterwards; a test
fails if anything asked it for what a terminal tool must not send (the safetensors conversion bot).
``hub_env`` is the environment a ``parrot`` subprocess needs to use it: ``HF_ENDPOINT``, a private
HF cache, and online mode (conftest turns the Hub off for every other test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hub_server import HubServer
from tests.support.tiny_models import build_tiny_gpt2, build_tiny_llama


@pytest.fixture
def hub(tmp_path):
    """A Hub-shaped server on 127.0.0.1, empty; tests add the repos they need."""
    server = HubServer()
    yield server
    server.stop()
    assert not server.forbidden, f"the Hub was asked for what parrot must not send: {server.forbidden}"


@pytest.fixture
def hub_env(hub, tmp_path) -> dict[str, str]:
    """Environment for a ``parrot`` subprocess talking to ``hub`` with an empty HF cache."""
    hf_home = tmp_path / "hf-home"
    hf_home.mkdir(exist_ok=True)
    return {"HF_ENDPOINT": hub.url, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0",
            "TRANSFORMERS_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", "DISABLE_SAFETENSORS_CONVERSION": ""}


@pytest.fixture
def hub_in_process(hub, tmp_path, monkeypatch) -> Path:
    """Point this process's huggingface_hub at ``hub`` (its constants are read once, at import)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    cache = tmp_path / "hf-home" / "hub"
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(cache.parent))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(_http, "_HUB_ORIGINS", _http._HUB_ORIGINS | {_http._url_origin(hub.url)})
    return cache


@pytest.fixture(scope="session")
def tiny_gpt2_repo(tmp_path_factory) -> Path:
    """A codeparrot-shaped GPT-2 folder as codeparrot-small is on the Hub: weights in ``pytorch_model.bin``
    only, and a config whose bos/eos (50256, GPT-2's) lie outside its vocabulary."""
    import json

    import torch
    from safetensors.torch import load_file

    folder = build_tiny_gpt2(tmp_path_factory.mktemp("codeparrot-shaped"))
    weights = folder / "model.safetensors"
    torch.save(load_file(str(weights)), folder / "pytorch_model.bin")
    weights.unlink()
    for name in ("config.json", "generation_config.json"):
        config = json.loads((folder / name).read_text())
        config.update(bos_token_id=50256, eos_token_id=50256)
        (folder / name).write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="session")
def tiny_chat_repo(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("hub-tiny-llama"))
