"""Edit and branch: /edit starts a branch and keeps the old one, /retry keeps the reply it replaces,
/branches and /branch move between them; they survive in SQLite, and a database from before loads."""

from __future__ import annotations

import io
import re
import sqlite3

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from test_history_search import OLD_SCHEMA

from backends.paths import history_file
from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.prompt_input import PromptInput
from repl.chat.branches import own_turns, parting
from repl.history.store import HistoryStore
from repl.modes.plain import run_plain
from tests.support.app_helpers import screen_text, type_text, wait_until
from tests.support.helpers import run_parrot

CTRL_D = "\x04"
SETTINGS = GenerationSettings(temperature=1.0, seed=3, max_new_tokens=6)


def script(model, text: str, *flags: str):
    return run_parrot(["--script", "-", "-m", str(model), "--device", "cpu", "-t", "1", "--seed", "3", "-n", "4",
                       *flags], stdin=text.encode())


def user_texts(conversation) -> list[str]:
    return [t.message.content for t in conversation.turns if t.message.role == "user"]


def test_edit_branches_and_switching_back_in_a_script(tiny_llama):
    result = script(tiny_llama, "first question\nsecond question\n/edit 2\nsecond, asked better\n"
                                "/branches\n/branch 1\n/branch 1\n/retry\n/branches\n", "--keep-going")
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "editing prompt 2" in out and "which stays as branch 1" in out
    assert "differs at" in out and "second question" in out and "prompt 2" in out
    assert "switched to branch 1, which starts 'second question' at prompt 2; branch 2, where you were" in out
    assert "branch 1 is the one you are on" in err  # the same number twice does not flip back
    store = HistoryStore()
    conversation = store.load(store.last_id())
    assert user_texts(conversation) == ["first question", "second question"]  # switched back to the old one
    assert conversation.branch == 3  # /retry's new reply is a path of its own
    kept = {b.number: b for b in conversation.branches}
    assert sorted(kept) == [1, 2]
    assert user_texts(kept[2]) == ["first question", "second, asked better"]  # whole paths, by number
    assert parting(conversation, kept[2]) == 2 and own_turns(conversation, kept[2])[0].message.role == "user"
    assert parting(conversation, kept[1]) == 3  # /retry kept the reply it replaced
    assert own_turns(conversation, kept[1])[0].message.role == "assistant"
    listing = out.rsplit("differs at", 1)[1]
    assert "1 " in listing and "reply 2" in listing and "3*" in listing and "now" not in listing
    shown = run_parrot(["history", str(conversation.id)]).stdout.decode()
    assert "second question" in shown and "asked better" not in shown  # prints the current branch
    store.close()


def test_branch_numbers_stay_with_their_paths_and_times_are_real(tiny_llama):
    """Three paths: each keeps its number however often one switches, and the list says when each was made."""
    result = script(tiny_llama, "colour?\n/retry\n/retry\n/branch 1\n/branch 3\n/branch 2\n/branches\n")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    store = HistoryStore()
    conversation = store.load(store.last_id())
    assert conversation.branch == 2 and sorted(b.number for b in conversation.branches) == [1, 3]
    made = {b.number: b.turns[1].created for b in conversation.branches}
    made[2] = conversation.turns[1].created
    assert made[1] < made[2] < made[3]  # each reply under the number it was made as, after all the switching
    listing = out.rsplit("differs at", 1)[1]
    assert re.search(r"\b1\s+reply 1\s+\d\d:\d\d", listing) and re.search(r"\b2\*\s+\d\d:\d\d", listing)
    store.close()


def test_export_writes_one_branch_or_all(tiny_llama, tmp_path):
    one, every = tmp_path / "one.md", tmp_path / "all.jsonl"
    result = script(tiny_llama, f"draft prompt\n/edit\nfinal prompt\n/export md {one}\n/export jsonl {every} --all\n")
    assert result.returncode == 0, result.stderr.decode()
    text = one.read_text()  # (the title stays the first prompt's)
    assert "## user\n\nfinal prompt" in text and "## user\n\ndraft prompt" not in text
    assert not text.count("```") % 2  # every fence closed
    import json

    records = [json.loads(line) for line in every.read_text().splitlines()]
    assert [r["content"] for r in records if r["role"] == "user"] == ["final prompt", "draft prompt"]
    assert records[-1]["branch"] == 1 and records[-1]["fork"] == 0


def test_a_database_from_before_branches_loads_and_branches(tiny_llama):
    db = sqlite3.connect(history_file())
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO conversations VALUES (1, 'old', 1.0, 2.0)")
    for position, (role, text) in enumerate([("user", "old prompt"), ("assistant", "old answer")]):
        db.execute("INSERT INTO turns (conversation_id, position, role, content, created, backend, model, "
                   "finish_reason, stats) VALUES (1, ?, ?, ?, 1.0, 'local', 'm', 'stop', ?)",
                   (position, role, text, '{"completion_tokens": 2, "model": "m"}' if role == "assistant" else None))
    db.commit()
    db.close()
    store = HistoryStore()
    old = store.load(1)
    assert [t.message.content for t in old.turns] == ["old prompt", "old answer"]
    assert old.turns[1].stats.completion_tokens == 2 and old.branches == []
    store.close()
    result = script(tiny_llama, "/load 1\n/edit 1\nnew prompt\n")
    assert result.returncode == 0, result.stderr.decode()
    store = HistoryStore()
    again = store.load(1)
    assert user_texts(again) == ["new prompt"]
    assert [t.message.content for t in again.branches[0].turns] == ["old prompt", "old answer"]
    assert again.branches[0].number == 1 and again.branch == 2
    store.close()


def test_edit_puts_the_prompt_back_in_the_plain_repl(tiny_llama):
    out = io.StringIO()
    with create_pipe_input() as pipe:
        # /edit fills the next line with the old prompt; typing adds to it and Enter sends it.
        pipe.send_text(f"tell me a joke\r/edit\r about cats\r{CTRL_D}")
        code = run_plain("local", str(tiny_llama), SETTINGS, {"device": "cpu"}, input=pipe,
                         output=DummyOutput(), out=out)
    assert code == 0
    store = HistoryStore()
    conversation = store.load(store.last_id())
    assert user_texts(conversation) == ["tell me a joke about cats"]
    assert user_texts(conversation.branches[0]) == ["tell me a joke"]
    store.close()


async def test_edit_and_switch_branches_in_the_app(tiny_llama):
    app = ChatApp("local", str(tiny_llama), SETTINGS, {"device": "cpu"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, "name a colour")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying)
        await type_text(pilot, "/edit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query_one(PromptInput).text == "name a colour")
        await type_text(pilot, " please")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.session.conversation.turns) == 2 and not app.replying
                         and user_texts(app.session.conversation) == ["name a colour please"])
        assert "name a colour please" in screen_text(app)
        await pilot.press("ctrl+b")  # the key that opens the branches
        await wait_until(pilot, lambda: "differs at" in screen_text(app))
        await type_text(pilot, "/branch 1")
        await pilot.press("enter")
        await wait_until(pilot, lambda: user_texts(app.session.conversation) == ["name a colour"])
        await wait_until(pilot, lambda: "switched to branch 1" in screen_text(app))
        screen = screen_text(app)
        assert "name a colour" in screen and "name a colour please" not in screen


def test_edit_gives_back_the_prompt_as_typed_and_keeps_queued_files(tiny_llama, tmp_path):
    queued, named = tmp_path / "queued.py", tmp_path / "named.py"
    queued.write_text("q = 1\n")
    named.write_text("n = 1\n")
    result = script(tiny_llama, f"/file {queued}\nlook at @{named}\n/edit\nlook again at @{named}\n")
    assert result.returncode == 0, result.stderr.decode()
    store = HistoryStore()
    turn = store.load(store.last_id()).turns[0]
    assert [a["path"] for a in turn.attachments] == [str(queued), str(named)]  # each file once
    assert turn.message.content.count("q = 1") == 1 and turn.message.content.endswith(f"look again at @{named}")
    store.close()
