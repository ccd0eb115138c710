"""The Hub-shaped fixture, proved with huggingface_hub's own calls: if these pass, the client treats it as the Hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hub_data import github_code_rows, parquet_bytes

FILES = {"config.json": b'{"model_type": "gpt2"}', "README.md": b"# tiny\n", "weights/pytorch_model.bin": b"W" * 200_000}


def test_hf_hub_download_reads_small_files_from_the_hub_and_large_ones_from_the_cdn(hub, hub_in_process):
    from huggingface_hub import hf_hub_download

    repo = hub.add_repo("org/tiny", FILES)
    config = Path(hf_hub_download("org/tiny", "config.json"))
    weights = Path(hf_hub_download("org/tiny", "weights/pytorch_model.bin"))
    assert config.read_bytes() == FILES["config.json"]
    assert weights.read_bytes() == FILES["weights/pytorch_model.bin"]
    assert f"snapshots/{repo.sha}/" in weights.as_posix() and str(hub_in_process) in str(weights)
    cdn = [r for r in hub.requests if r.origin == "cdn"]
    assert [r.method for r in cdn] == ["GET"] and repo.files["weights/pytorch_model.bin"].sha256 in cdn[0].path


def test_snapshot_download_then_offline_from_the_cache(hub, hub_in_process, monkeypatch):
    from huggingface_hub import constants, snapshot_download

    hub.add_repo("org/tiny", FILES)
    folder = Path(snapshot_download("org/tiny"))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(FILES)
    served = len(hub.requests)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert Path(snapshot_download("org/tiny")) == folder
    assert len(hub.requests) == served


def test_errors_map_to_the_clients_exceptions(hub, hub_in_process):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    hub.add_repo("org/tiny", FILES)
    hub.add_repo("org/gated", FILES, gated=True)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/missing", "config.json")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/tiny", "nope.json")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("org/tiny", "config.json", revision="v9")
    with pytest.raises(GatedRepoError) as no_token:
        hf_hub_download("org/gated", "config.json")
    assert no_token.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as wrong_token:
        hf_hub_download("org/gated", "config.json", token="hf_notAllowed")
    assert wrong_token.value.response.status_code == 403
    assert Path(hf_hub_download("org/gated", "config.json", token=hub.token)).read_bytes() == FILES["config.json"]


def test_the_token_never_follows_a_redirect_to_the_cdn(hub, hub_in_process):
    from huggingface_hub import hf_hub_download

    hub.add_repo("org/gated", FILES, gated=True)
    hf_hub_download("org/gated", "weights/pytorch_model.bin", token=hub.token)
    assert {r.origin for r in hub.tokens_sent()} == {"hub"}
    assert [r.authorization for r in hub.requests if r.origin == "cdn"] == [None]


def test_hffilesystem_globs_trees_and_reads_byte_ranges(hub, hub_in_process):
    from huggingface_hub import HfFileSystem

    data = parquet_bytes(github_code_rows())
    hub.add_repo("codeparrot/github-code", {"data/train-00000-of-00002.parquet": data,
                                            "data/train-00001-of-00002.parquet": data, "README.md": b"card"},
                 repo_type="dataset")
    fs = HfFileSystem()
    assert fs.glob("hf://datasets/codeparrot/github-code/data/train-*.parquet") == [
        "datasets/codeparrot/github-code/data/train-00000-of-00002.parquet",
        "datasets/codeparrot/github-code/data/train-00001-of-00002.parquet"]
    assert fs.info("datasets/codeparrot/github-code/data/train-00000-of-00002.parquet")["size"] == len(data)
    with fs.open("datasets/codeparrot/github-code/data/train-00001-of-00002.parquet", block_size=1024) as f:
        f.seek(len(data) - 8)
        assert f.read() == data[-8:]  # the parquet footer: a reader's first range request
    assert any((r.header("Range") or "").startswith("bytes=") for r in hub.requests)


def test_a_dropped_download_resumes_with_a_range_request(hub, hub_in_process, monkeypatch):
    from huggingface_hub import constants, hf_hub_download

    # The client writes in 10 MB chunks; smaller ones let this 200 kB file keep what arrived before the drop.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16384)
    hub.add_repo("org/tiny", FILES)
    hub.faults.drop_after, hub.faults.drops = 70_000, 1
    weights = Path(hf_hub_download("org/tiny", "weights/pytorch_model.bin"))
    assert weights.read_bytes() == FILES["weights/pytorch_model.bin"]
    ranges = [r.header("Range") for r in hub.requests if r.origin == "cdn"]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"


def test_status_switch_answers_5xx_a_download_retries_once_and_an_api_call_raises(hub, hub_in_process):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    hub.add_repo("org/tiny", FILES)
    hub.faults.status, hub.faults.status_times = 503, 1
    assert Path(hf_hub_download("org/tiny", "README.md")).read_bytes() == b"# tiny\n"
    hub.faults.status, hub.faults.status_times = 500, 10
    with pytest.raises(HfHubHTTPError) as failed:
        HfApi().model_info("org/tiny")
    assert failed.value.response.status_code == 500


def test_conversion_bot_requests_are_refused_and_recorded(hub, hub_in_process):
    from huggingface_hub import HfApi

    hub.add_repo("org/tiny", FILES)
    with pytest.raises(Exception):
        HfApi().get_repo_discussions("org/tiny").__next__()
    assert [r.path.split("?")[0] for r in hub.forbidden] == ["/api/models/org/tiny/discussions"]
    hub.forbidden.clear()  # this test asked on purpose; the fixture fails any other test that does
