"""Hub datasets when things are not simple: gated (the keyring's token must reach the download), missing,
dropped or stalled mid-file, and offline with or without a cached copy. One line each, no retry notes and
no signed URLs on stderr, the token to the Hub alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.helpers import run_parrot
from tests.support.hub_data import add_github_code, add_wikitext

TESTS = str(Path(__file__).resolve().parents[1] / "support")
TRAIN = ["tokenizer", "train", "--vocab", "300", "--name", "wiki"]
CHATTER = ("Retrying", "Trying to resume", "Error while downloading", "sig=", "Traceback", "unexpected error")
LOCAL = "train on local text instead: --data PATH (files or folders)"


@pytest.fixture
def keyring_env(hub_env, tmp_path) -> dict[str, str]:
    """A keyring shared by the parrot processes of one test, as an OS keyring is."""
    return {**hub_env, "PYTHON_KEYRING_BACKEND": "memory_keyring.FileKeyring",
            "PARROT_TEST_KEYRING": str(tmp_path / "keyring.json"),
            "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])}


def last_line(result) -> str:
    """parrot's last line on stderr, after checking that nothing above it is library chatter."""
    stderr = result.stderr.decode()
    assert not [word for word in CHATTER if word in stderr], stderr
    return stderr.strip().splitlines()[-1]


def test_a_gated_dataset_needs_a_token_then_trains_with_the_keyrings(hub, keyring_env):
    add_wikitext(hub, gated=True)
    result = run_parrot(TRAIN, env=keyring_env)
    assert result.returncode == 1
    assert last_line(result) == ("parrot: Salesforce/wikitext is gated: the Hub needs your Hugging Face token to "
                                 "download it (run `parrot login` (or set HF_TOKEN) after accepting its terms on its "
                                 "Hub page)")
    assert run_parrot(["login"], stdin=f"{hub.token}\n".encode(), env=keyring_env).returncode == 0
    assert "OS keyring" in run_parrot(["login", "--status"], env=keyring_env).stdout.decode()
    hub.requests.clear()
    result = run_parrot(TRAIN, env=keyring_env)
    assert result.returncode == 0, result.stderr.decode()
    assert "read all 40 lines" in result.stderr.decode()
    sent = hub.tokens_sent()
    assert sent and {r.origin for r in sent} == {"hub"} and {r.authorization for r in sent} == {f"Bearer {hub.token}"}
    assert [r.authorization for r in hub.requests if r.origin == "cdn"] == [None]  # dropped at the redirect
    assert hub.token not in (result.stdout + result.stderr).decode()


def test_a_token_without_access_to_a_gated_dataset_says_so(hub, hub_env):
    add_wikitext(hub, gated=True)
    result = run_parrot(TRAIN, env={**hub_env, "HF_TOKEN": "hf_someoneElsesToken"})
    assert result.returncode == 1
    assert last_line(result) == ("parrot: Salesforce/wikitext is gated and your Hugging Face token has no access to "
                                 "it (accept its terms on its Hub page (Salesforce/wikitext), then try again)")


def test_a_missing_dataset_says_it_was_not_found(hub, hub_env):
    result = run_parrot(TRAIN, env=hub_env)
    assert result.returncode == 1
    line = last_line(result)
    assert line.startswith("parrot: there is no dataset Salesforce/wikitext on the Hub") and LOCAL in line
    assert "data_files" not in line


@pytest.mark.parametrize("fault", ["dropped", "stalled"])
def test_a_download_that_breaks_off_is_one_line_and_the_next_run_works(hub, hub_env, fault):
    add_wikitext(hub)
    if fault == "dropped":
        hub.faults.drop_after, hub.faults.drops, hub.faults.paths = 100, 999, ("/blobs/",)
    else:
        hub.faults.delay, hub.faults.paths = 30.0, ("/blobs/",)
    env = {**hub_env, "HF_HUB_DOWNLOAD_TIMEOUT": "1"}  # the client's own wait for a stalled read, shortened
    result = run_parrot(TRAIN, env=env, timeout=240)
    assert result.returncode == 1
    line = last_line(result)
    assert line.startswith("parrot: the download of Salesforce/wikitext broke off (") and LOCAL in line
    hub.faults.drops, hub.faults.delay = 0, 0.0
    result = run_parrot(TRAIN, env=env)
    assert result.returncode == 0, result.stderr.decode()


def test_offline_training_reads_the_cached_copy_and_says_offline_mode_when_there_is_none(hub, hub_env):
    add_wikitext(hub)
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        result = run_parrot(TRAIN, env={**hub_env, variable: "1"})
        assert result.returncode == 1
        assert last_line(result) == (f"parrot: could not load Salesforce/wikitext: offline mode is set ({variable}=1) "
                                     f"and it is not in the local cache (unset {variable} to download it once, or "
                                     f"{LOCAL})")
    assert run_parrot(TRAIN, env=hub_env).returncode == 0  # online: fetched into the cache
    hub.stop()  # and the Hub goes away for good
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        result = run_parrot(TRAIN, env={**hub_env, variable: "1"})
        assert result.returncode == 0, result.stderr.decode()
        assert "read all 40 lines" in result.stderr.decode()
    result = run_parrot(TRAIN, env=hub_env)  # not offline, but the Hub cannot be reached: the cache serves
    assert result.returncode == 0, result.stderr.decode()


def test_finetuning_on_a_gated_github_code_sends_the_keyrings_token(hub, keyring_env, tiny_gpt2):
    add_github_code(hub, gated=True)
    args = ["finetune", "js", "--base", str(tiny_gpt2), "--data", "hub", "--steps", "1", "--block", "32"]
    result = run_parrot(args, env=keyring_env)
    assert result.returncode == 1
    assert last_line(result).startswith("failed · step 0/1 · codeparrot/github-code is gated: the Hub needs your "
                                        "Hugging Face token")
    assert run_parrot(["login"], stdin=f"{hub.token}\n".encode(), env=keyring_env).returncode == 0
    result = run_parrot([*args, "--fresh"], env=keyring_env)
    assert result.returncode == 0, result.stderr.decode()
    assert "done · step 1/1" in result.stderr.decode()
    assert {r.origin for r in hub.tokens_sent()} == {"hub"}


def test_finetuning_on_github_code_offline_says_offline_mode(hub_env, tiny_gpt2):
    args = ["finetune", "js", "--base", str(tiny_gpt2), "--data", "hub", "--steps", "1", "--block", "32"]
    result = run_parrot(args, env={**hub_env, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    line = last_line(result)
    assert "codeparrot/github-code: offline mode is set (HF_HUB_OFFLINE=1)" in line and "--data" in line
