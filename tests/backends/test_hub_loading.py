"""Loading models from the Hub, end to end through a Hub-shaped server on 127.0.0.1 (tests/support/hub_server.py)."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pexpect

from tests.support.helpers import ROOT, run_parrot

TESTS = str(ROOT)  # where tests.support imports from, for a subprocess


def hub_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def no_secret_anywhere(token: str, result, *folders: Path) -> None:
    """The token is in no output and no file parrot or the HF client wrote."""
    assert token not in (result.stdout + result.stderr).decode(errors="replace")
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert token.encode() not in path.read_bytes(), path


def test_a_hub_model_downloads_with_a_progress_bar_then_answers_offline(hub, hub_env, tiny_chat_repo):
    repo = hub.add_repo("org/tiny", tiny_chat_repo)
    env = {**os.environ, **hub_env, "TERM": "dumb", "PYTHONPATH": os.pathsep.join([TESTS, str(ROOT)])}
    child = pexpect.spawn(sys.executable, ["-m", "repl", "-m", "org/tiny", "--device", "cpu", "--greedy", "-n", "4",
                                           "-p", "hi"], cwd=str(ROOT), env=env, encoding="utf-8", timeout=180)
    child.expect(r"parrot: downloading org/tiny: \[#{24}\] 100% \(\d+\.\d of \d+\.\d MB\)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    snapshot = Path(hub_env["HF_HOME"]) / "hub" / "models--org--tiny" / "snapshots" / repo.sha
    assert hub_files(snapshot) == ["chat_template.jinja", "config.json", "generation_config.json",
                                   "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    served = len(hub.requests)
    result = run_parrot(["-m", "org/tiny", "--device", "cpu", "--greedy", "-n", "4", "-p", "hi"],
                        env={**hub_env, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout and len(hub.requests) == served  # from the cache, without asking the Hub


def test_codeparrot_downloads_its_bin_takes_eos_from_the_tokenizer_and_continues_code(hub, hub_in_process,
                                                                                      tiny_gpt2_repo):
    from backends.base import Message
    from backends.loading import models as loading
    from backends.local.backend import LocalBackend
    from backends.settings import GenerationSettings

    hub.add_repo("codeparrot/codeparrot-small", tiny_gpt2_repo)
    loaded = loading.load(loading.resolve("codeparrot"), device="cpu")
    assert sorted(hub.file_gets()) == ["config.json", "generation_config.json", "pytorch_model.bin",
                                       "tokenizer.json", "tokenizer_config.json"]
    assert not loaded.is_chat  # no chat template: completion mode
    assert loaded.eos_ids == {loaded.tokenizer.eos_token_id}  # not the config's 50256, outside the vocabulary
    assert loaded.model.generation_config.eos_token_id == 50256
    backend = LocalBackend.from_loaded(loaded)
    assert backend.prompt_ids([Message("user", "def add(a, b):")], GenerationSettings())[0] == \
        loaded.tokenizer("def add(a, b):", add_special_tokens=False).input_ids  # raw text, no template
    reply = backend.stream([Message("user", "def add(a, b):")], GenerationSettings(greedy=True, max_new_tokens=5))
    "".join(reply)
    assert 1 <= reply.stats.completion_tokens <= 5


def test_transformers_never_starts_its_safetensors_conversion_for_a_bin_only_repo(hub, hub_in_process,
                                                                                   tiny_gpt2_repo):
    from transformers import AutoModelForCausalLM

    import backends.loading.hub  # noqa: F401  (importing parrot's Hub module sets transformers' switch)

    hub.add_repo("codeparrot/codeparrot-small", tiny_gpt2_repo)
    AutoModelForCausalLM.from_pretrained("codeparrot/codeparrot-small")
    for thread in threading.enumerate():
        if thread.name == "Thread-auto_conversion":
            thread.join(timeout=30)
    assert os.environ["DISABLE_SAFETENSORS_CONVERSION"] == "1"
    # The `hub` fixture fails the test if the conversion asked for commits or discussions.


def test_codeparrot_through_the_program(hub, hub_env, tiny_gpt2_repo):
    hub.add_repo("codeparrot/codeparrot-small", tiny_gpt2_repo)
    result = run_parrot(["-m", "codeparrot", "--device", "cpu", "--greedy", "-n", "5", "-p", "def add(a, b):"],
                        env=hub_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout


def test_a_gated_model_needs_a_token_one_line_then_works_after_login(hub, hub_env, tiny_chat_repo, tmp_path):
    hub.add_repo("org/gated", tiny_chat_repo, gated=True)
    args = ["-m", "org/gated", "--device", "cpu", "--greedy", "-n", "4", "-p", "hi"]
    keyring_env = {**hub_env, "PYTHON_KEYRING_BACKEND": "tests.support.memory_keyring.FileKeyring",
                   "PARROT_TEST_KEYRING": str(tmp_path / "keyring.json"),
                   "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])}
    result = run_parrot(args, env=keyring_env)
    assert result.returncode == 1
    assert result.stderr.decode() == ("parrot: org/gated is gated: the Hub needs your Hugging Face token to download "
                                      "it (run `parrot login` (or set HF_TOKEN) after accepting its terms on its Hub "
                                      "page)\n")
    result = run_parrot(["login"], stdin=f"{hub.token}\n".encode(), env=keyring_env)
    assert result.returncode == 0, result.stderr
    hub.requests.clear()
    result = run_parrot(args, env=keyring_env)  # the keyring's token, which the HF client never reads itself
    assert result.returncode == 0, result.stderr
    assert result.stdout
    sent = hub.tokens_sent()
    assert sent and {r.origin for r in sent} == {"hub"}
    assert {r.authorization for r in sent} == {f"Bearer {hub.token}"}
    assert [r.authorization for r in hub.requests if r.origin == "cdn"] == [None]  # dropped at the redirect
    no_secret_anywhere(hub.token, result, Path(hub_env["HF_HOME"]), tmp_path / "parrot-home")


def test_a_gated_model_works_with_hf_token_and_a_wrong_token_is_one_line(hub, hub_env, tiny_chat_repo, tmp_path):
    hub.add_repo("org/gated", tiny_chat_repo, gated=True)
    args = ["-m", "org/gated", "--device", "cpu", "--greedy", "-n", "4", "-p", "hi"]
    result = run_parrot(args, env={**hub_env, "HF_TOKEN": "hf_someoneElsesToken"})
    assert result.returncode == 1
    assert result.stderr.decode() == ("parrot: org/gated is gated and your Hugging Face token has no access to it "
                                      "(accept its terms on its Hub page (org/gated), then try again)\n")
    result = run_parrot(args, env={**hub_env, "HF_TOKEN": hub.token})
    assert result.returncode == 0, result.stderr
    assert {r.origin for r in hub.tokens_sent()} == {"hub"}
    no_secret_anywhere(hub.token, result, Path(hub_env["HF_HOME"]), tmp_path / "parrot-home")


def test_the_keyring_token_is_passed_to_the_download(hub, hub_in_process, tiny_chat_repo, memory_keyring,
                                                     monkeypatch):
    from backends import credentials
    from backends.loading import models as loading

    monkeypatch.delenv("HF_TOKEN", raising=False)
    hub.add_repo("org/gated", tiny_chat_repo, gated=True)
    credentials.login(hub.token)
    loaded = loading.load(loading.resolve("org/gated"), device="cpu")
    assert loaded.is_chat
    assert all(r.authorization == f"Bearer {hub.token}" for r in hub.requests if r.origin == "hub"
               and "/resolve/" in r.path)


def test_an_unknown_model_is_one_line(hub, hub_env):
    result = run_parrot(["-m", "org/nothing-here", "-p", "hi"], env=hub_env)
    assert result.returncode == 1
    assert result.stderr.decode() == ("parrot: there is no model org/nothing-here on the Hub (check the id; a private "
                                      "model needs `parrot login` first)\n")


def test_a_download_dropped_once_is_retried_and_the_model_answers(hub, hub_env, tiny_chat_repo):
    hub.add_repo("org/tiny", tiny_chat_repo)
    hub.faults.drop_after, hub.faults.drops, hub.faults.paths = 20_000, 1, ("/blobs/",)
    result = run_parrot(["-m", "org/tiny", "--device", "cpu", "-n", "3", "-p", "hi"], env=hub_env)
    assert result.returncode == 0, result.stderr
    assert len([r for r in hub.requests if r.origin == "cdn"]) == 2


def test_a_download_that_keeps_failing_is_one_line_and_leaves_nothing_half_written(hub, hub_env, tiny_chat_repo):
    repo = hub.add_repo("org/tiny", tiny_chat_repo)
    hub.faults.drop_after, hub.faults.drops, hub.faults.paths = 0, 99, ("/blobs/",)
    args = ["-m", "org/tiny", "--device", "cpu", "-n", "3", "-p", "hi"]
    result = run_parrot(args, env=hub_env)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert lines[-1].startswith("parrot: the download of org/tiny broke off (")
    assert lines[-1].endswith("(run the same command again: nothing partial was kept)")
    cache = Path(hub_env["HF_HOME"]) / "hub" / "models--org--tiny"
    weights = repo.files["model.safetensors"]
    assert not [p for p in (cache / "blobs").iterdir() if p.name.endswith(".incomplete")]
    assert not (cache / "blobs" / weights.sha256).exists()
    result = run_parrot(args, env={**hub_env, "HF_HUB_OFFLINE": "1"})  # the partial snapshot is never loaded
    assert result.returncode == 1 and len(result.stderr.decode().splitlines()) == 1
    assert "cannot be reached" in result.stderr.decode()
    hub.faults.drops = 0
    result = run_parrot(args, env=hub_env)  # online again: it completes
    assert result.returncode == 0, result.stderr
    assert (cache / "blobs" / weights.sha256).read_bytes() == weights.data


def test_an_unreachable_endpoint_fails_fast_naming_the_offline_options(hub_env):
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run_parrot(["-m", "org/tiny", "-p", "hi"], env={**hub_env, "HF_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert result.returncode == 1
    assert result.stderr.decode() == ("parrot: org/tiny is not in the local Hugging Face cache and the Hub cannot be "
                                      "reached (use the embedded model (--model smollm2), a local folder or a .gguf "
                                      "file)\n")


def test_tokens_with_a_hub_tokenizer_fetches_only_tokenizer_files(hub, hub_env, tiny_chat_repo, tmp_path):
    hub.add_repo("org/tiny", tiny_chat_repo, gated=True)
    args = ["tokens", "--tokenizer", "org/tiny", "--json", "def add(a, b):"]
    result = run_parrot(args, env={**hub_env, "HF_TOKEN": hub.token})  # gated: the token must go along
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    from transformers import AutoTokenizer

    expected = AutoTokenizer.from_pretrained(tiny_chat_repo)("def add(a, b):", add_special_tokens=False).input_ids
    assert [t["id"] for t in data["tokens"]] == expected
    assert data["context_window"] == 256  # from config.json, read as JSON
    assert sorted(hub.file_gets()) == ["chat_template.jinja", "config.json", "tokenizer.json",
                                       "tokenizer_config.json"]  # no weights, no generation config
    served = len(hub.requests)
    result = run_parrot(args, env={**hub_env, "HF_HUB_OFFLINE": "1"})  # then from the cache, offline
    assert result.returncode == 0, result.stderr
    assert [t["id"] for t in json.loads(result.stdout)["tokens"]] == expected and len(hub.requests) == served
