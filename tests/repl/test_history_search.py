"""Finding conversations by their messages: `parrot history --search`, `/history TEXT`, then /load."""

from __future__ import annotations

import sqlite3

from backends.base import Message
from backends.paths import history_file
from repl import commands
from repl.chat.session import Conversation, Session, Turn
from repl.commands.context import Context
from repl.history.store import HistoryStore
from tests.support.helpers import run_parrot
from tests.support.recording_ui import RecordingUI

# The schema main wrote before attachments and the index existed, copied as it was.
OLD_SCHEMA = """
CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
                            updated REAL NOT NULL);
CREATE TABLE turns (conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, created REAL NOT NULL, backend TEXT,
    model TEXT, settings TEXT, seed INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER,
    time_to_first_token REAL, seconds REAL, finish_reason TEXT, stats TEXT, PRIMARY KEY (conversation_id, position));
"""


def store_conversation(store: HistoryStore, *texts: str) -> Conversation:
    conversation = Conversation()
    for index, text in enumerate(texts):
        conversation.turns.append(Turn(Message("user" if index % 2 == 0 else "assistant", text)))
        store.save_turn(conversation, conversation.turns[-1])
    return conversation


def test_search_finds_conversations_newest_first_with_the_matching_line():
    store = HistoryStore()
    older = store_conversation(store, "how do I parse TOML?", "Use tomllib:\nimport tomllib\ndata = tomllib.load(f)")
    newer = store_conversation(store, "write a tomllib example", "here it is")
    store_conversation(store, "nothing relevant", "indeed")
    hits = store.search("TOMLLIB")
    assert [h.conversation_id for h in hits] == [newer.id, older.id]
    assert hits[0].line == "write a tomllib example"
    assert hits[1].line == "Use tomllib:" and hits[1].role == "assistant"
    assert [h.conversation_id for h in store.search("lib.lo")] == [older.id]  # a piece of an identifier
    assert store.search("no such words") == []


def test_the_index_follows_undo_and_is_built_for_an_old_database(tmp_path):
    path = history_file()
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO conversations VALUES (1, 'old one', 1.0, 2.0)")
    db.execute("INSERT INTO turns (conversation_id, position, role, content, created) "
               "VALUES (1, 0, 'user', 'a question about quicksort', 1.0)")
    db.commit()
    db.close()
    store = HistoryStore()
    assert [h.conversation_id for h in store.search("quicksort")] == [1]
    conversation = store.load(1)
    del conversation.turns[0:]
    store.sync_length(conversation)  # /undo forgets the turn: the index forgets it too
    assert store.search("quicksort") == []


def test_history_command_searches_and_load_opens_the_result(tiny_llama):
    store = HistoryStore()
    found = store_conversation(store, "explain the borrow checker", "it tracks ownership")
    store_conversation(store, "something else", "ok")
    session = Session("local", str(tiny_llama), device="cpu")
    ui = RecordingUI(width=200)
    store.attach(session)
    context = Context(session, ui)
    commands.run("/history borrow checker", context)
    assert f"{found.id}" in ui.text and "explain the borrow checker" in ui.text and "something" not in ui.text
    commands.run(f"/load {found.id}", context)
    assert [t.message.content for t in session.conversation.turns] == ["explain the borrow checker",
                                                                      "it tracks ownership"]
    commands.run("/history zebra", context)
    assert "no conversation mentions 'zebra'" in ui.text


def test_parrot_history_search_from_the_command_line(parrot_home):
    store = HistoryStore()
    store_conversation(store, "fix my regex", "use a raw string: r'\\d+'")
    store.close()
    result = run_parrot(["history", "--search", "raw string"], env={"PARROT_HOME": str(parrot_home)})
    assert result.returncode == 0
    assert "use a raw string" in result.stdout.decode() and "assistant" in result.stdout.decode()
    bad = run_parrot(["history", "--search", " "], env={"PARROT_HOME": str(parrot_home)})
    assert bad.returncode == 2 and "--search needs some text" in bad.stderr.decode()
