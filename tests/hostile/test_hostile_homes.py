"""Broken homes and stores: PARROT_HOME a file, read-only, deep; a damaged history database.

A file home is refused in one line (exit 2) in every mode. A read-only home and a damaged database
never stop parrot: it starts, says once what happened, keeps (or recovers) what was stored, and
never deletes the damaged file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from tests.support.hostile_modes import MODES, assert_one_line, run_mode, seed_conversation


@pytest.mark.parametrize("mode", MODES)
def test_a_home_that_is_a_file_is_one_line(mode, tmp_path, monkeypatch, model_args):
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("PARROT_HOME", str(home))
    outcome = run_mode(mode, ["hello"], model_args)
    assert_one_line(outcome, "is a file, not a folder", "PARROT_HOME", code=2)
    assert home.read_text() == "not a folder"


@pytest.mark.parametrize("mode", ["plain", "script", "app"])
def test_a_home_whose_parents_do_not_exist_yet_is_made(mode, tmp_path, monkeypatch, model_args):
    monkeypatch.setenv("PARROT_HOME", str(tmp_path / "a" / "b" / "c"))
    outcome = run_mode(mode, ["/history"], model_args)
    assert "Traceback" not in outcome.text and outcome.code in (0, None), outcome.text
    assert (tmp_path / "a" / "b" / "c" / "data").is_dir()


def make_read_only(home):
    for folder in [home, *[p for p in home.rglob("*") if p.is_dir()]]:
        folder.chmod(0o555)


@pytest.fixture
def read_only_home(parrot_home):
    conversation = seed_conversation(("remember the read-only home", "kept"))
    make_read_only(parrot_home)
    yield conversation
    for folder in [parrot_home, *[p for p in parrot_home.rglob("*") if p.is_dir()]]:
        folder.chmod(0o755)


@pytest.mark.parametrize("mode", ["app", "plain", "script"])
def test_a_read_only_home_starts_and_says_nothing_is_stored(mode, read_only_home, model_args):
    outcome = run_mode(mode, ["/history", "/save"], model_args)
    assert_one_line(outcome, "read-only", "not be stored")
    if mode == "app":
        assert outcome.running
    else:
        assert "remember the read-only home" in outcome.out  # what was stored can still be listed


def test_a_read_only_home_still_answers_one_shot_and_stores_nothing(read_only_home, parrot_home, model_args):
    files = sorted(p.name for p in (parrot_home / "data").iterdir())
    outcome = run_mode("oneshot", ["hello"], model_args)
    assert outcome.code == 0, outcome.text
    assert sorted(p.name for p in (parrot_home / "data").iterdir()) == files


@pytest.mark.parametrize("mode", ["app", "plain", "script"])
def test_a_prompt_history_that_is_a_folder_does_not_stop_the_chat(mode, parrot_home, model_args):
    (parrot_home / "data" / "prompt_history").mkdir(parents=True)
    outcome = run_mode(mode, ["/history"], model_args)
    assert "Traceback" not in outcome.text and outcome.code in (0, None), outcome.text


# -- a damaged history database ------------------------------------------------------------------

def damage(kind: str, path) -> None:
    if kind == "random-bytes":
        path.write_bytes(os.urandom(8192))
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "zeroed-pages":
        data = bytearray(path.read_bytes())
        data[4096:8192] = b"\xff" * 4096  # one page in the middle overwritten
        path.write_bytes(bytes(data))
    elif kind == "folder":
        path.unlink()
        path.mkdir()
    elif kind == "text":
        path.write_text("this is my shopping list\n")


def seeded_database() -> "os.PathLike[str]":
    """A real history with many conversations, checkpointed into the main file."""
    from backends.paths import history_file

    for index in range(40):
        seed_conversation((f"question {index} " + "x" * 300, f"answer {index}"))
    with sqlite3.connect(history_file()) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        side = history_file().with_name(history_file().name + suffix)
        if side.exists():
            side.unlink()
    return history_file()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["random-bytes", "truncated", "zeroed-pages", "folder", "text"])
def test_a_damaged_history_is_set_aside_and_parrot_starts(kind, mode, model_args):
    path = seeded_database()
    original = path.read_bytes()
    damage(kind, path)
    outcome = run_mode(mode, ["/history"] if mode != "oneshot" else ["hello"], model_args)
    if mode == "oneshot":  # one-shot answers without the history: it needs no notice
        assert outcome.code == 0, outcome.text
        return
    line = assert_one_line(outcome, "damaged", "set aside")
    assert outcome.code in (0, None) and (outcome.running or mode != "app"), outcome.text
    aside = [p for p in path.parent.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and str(aside[0]) in line  # kept, under the name the notice gives
    if kind == "truncated":  # the readable half came back
        assert " 0 conversation(s)" not in line and "nothing in it" not in line, line
        assert "question 0" in outcome.out or mode == "app"
    if kind in ("random-bytes", "truncated", "zeroed-pages"):
        assert aside[0].stat().st_size == (len(original) // 2 if kind == "truncated" else
                                           8192 if kind == "random-bytes" else len(original))
    from repl.history.store import HistoryStore

    store = HistoryStore()  # the new database works, and opens without a notice next time
    assert store.notices == []
    store.close()


def test_recovery_keeps_rows_past_a_damaged_page(model_args):
    from repl.history.store import HistoryStore

    path = seeded_database()
    damage("zeroed-pages", path)
    store = HistoryStore()
    assert store.notices and "set aside" in store.notices[0]
    recovered = store.conversations(limit=100)
    store.close()
    assert len(recovered) >= 20, store.notices  # most of the 40 conversations survive one bad page
    shutil.rmtree(path.parent)
