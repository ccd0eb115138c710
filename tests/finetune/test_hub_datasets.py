"""The datasets that come from the Hub (github-code for /finetune, wikitext for tokenizer training), streamed
over hf:// from a Hub-shaped server on 127.0.0.1 (tests/support/hub_server.py)."""

from __future__ import annotations

import json
import sys

import pytest

from tests.support.helpers import ROOT, run_parrot
from tests.support.hub_data import WIKITEXT_TRAIN, add_github_code, add_wikitext, github_code_rows

CHATTER = ("Retrying", "Trying to resume", "Error while downloading", "sig=", "Traceback", "unexpected error")


@pytest.fixture
def github_code(hub):
    return add_github_code(hub)


def test_github_code_streams_permissive_js_over_hf(hub, hub_env, github_code):
    script = ("import json; from finetune.data import hub_documents; "
              "print(json.dumps([[d.path, d.license, d.text] for d in hub_documents()]))")
    import subprocess

    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=300,
                            env={**__import__("os").environ, **hub_env})
    assert result.returncode == 0, result.stderr.decode()
    docs = json.loads(result.stdout)
    expected = [r for r in github_code_rows(60) if r["license"] in ("mit", "isc", "apache-2.0")
                and r["path"].endswith(".js")]
    assert [(p, lic, text) for p, lic, text in docs] == [
        (f"{r['repo_name']}/{r['path']}", r["license"], r["content"]) for r in expected]
    assert not any("GPL" in text for _, _, text in docs) and len(docs) == 36
    assert {r.origin for r in hub.requests if "parquet" in r.path or "/blobs/" in r.path} == {"hub", "cdn"}
    assert all((r.header("Range") or "").startswith("bytes=") for r in hub.requests if r.origin == "cdn")


def test_finetune_js_with_hub_data_trains_and_publishes_js(hub, hub_env, github_code, tiny_gpt2):
    result = run_parrot(["finetune", "js", "--base", str(tiny_gpt2), "--data", "hub", "--steps", "2",
                         "--block", "32"], env=hub_env)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "reading JavaScript from hub" in stderr and "34 training files, 2 held out" in stderr
    assert "done · step 2/2" in stderr and "parrot -m js" in stderr
    answer = run_parrot(["-m", "js", "--greedy", "-n", "4", "-p", "function add(a, b) {"], env=hub_env)
    assert answer.returncode == 0, answer.stderr.decode()


def test_a_connection_dropped_mid_stream_is_one_line_and_the_run_can_be_started_again(hub, hub_env, github_code,
                                                                                     tiny_gpt2):
    hub.faults.drop_after, hub.faults.drops, hub.faults.paths = 100, 999, ("/blobs/",)
    args = ["finetune", "js", "--base", str(tiny_gpt2), "--data", "hub", "--steps", "2", "--block", "32"]
    result = run_parrot(args, env=hub_env, timeout=240)  # the clients' retries take about a minute
    assert result.returncode == 1
    stderr = result.stderr.decode()
    last = stderr.splitlines()[-1]
    assert last.startswith("failed · step 0/2 · the download of codeparrot/github-code broke off (")
    assert last.endswith("or use --data with a local folder of JavaScript, e.g. /usr/lib/node_modules)")
    assert not [word for word in CHATTER if word in stderr], stderr  # no retry notes, no signed URLs
    hub.faults.drops = 2  # a drop or two the Hub client's own retries get past
    result = run_parrot(args, env=hub_env)
    assert result.returncode == 0, result.stderr.decode()
    assert "done · step 2/2" in result.stderr.decode() and hub.faults.drops == 0


def test_tokenizer_training_reads_the_first_fifth_of_wikitexts_train_split_from_the_hub(hub, hub_env):
    add_wikitext(hub)
    result = run_parrot(["tokenizer", "train", "--vocab", "300", "--name", "wiki"], env=hub_env)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "read all 40 lines" in stderr  # 20% of 200 rows
    assert result.stdout.decode().strip().endswith("tokenizers/wiki/tokenizer.json")
    assert hub.file_gets("Salesforce/wikitext") == [WIKITEXT_TRAIN]  # the train split only, nothing else
