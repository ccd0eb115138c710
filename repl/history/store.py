"""Every conversation in SQLite, one row per turn, committed as each turn happens.

Assistant turns keep what is needed to reproduce them: backend, model, settings (JSON), seed, token
counts, timing and how they ended. WAL mode with a commit per turn means a killed process never loses
a turn that was already committed. The connection is shared by the UI thread and the reply thread,
so every statement runs under one lock.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from backends import paths
from backends.errors import UsageError
from backends.one_line import one_line

from ..chat.attachments import split_composed
from ..chat.records import turn_from_record, turn_record
from ..chat.session import Conversation, Session, Turn
from .search import SearchHit, ensure_index, search

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    branch INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created REAL NOT NULL,
    backend TEXT,
    model TEXT,
    settings TEXT,
    seed INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    time_to_first_token REAL,
    seconds REAL,
    finish_reason TEXT,
    stats TEXT,
    attachments TEXT,
    PRIMARY KEY (conversation_id, position)
);
CREATE TABLE IF NOT EXISTS branches (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    fork INTEGER NOT NULL,
    created REAL NOT NULL,
    turns TEXT NOT NULL,
    number INTEGER
);
"""


@dataclass(frozen=True)
class ConversationInfo:
    """One line of ``/history``."""

    id: int
    title: str
    updated: float
    turns: int
    files: int = 0  # attachments over all its turns

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.updated))


class HistoryStore:
    """The history database. ``attach`` subscribes it to a session's conversations: every change
    a conversation makes to itself is committed here as it happens."""

    def __init__(self, path: Path | None = None) -> None:
        from .store_open import open_history

        self._lock = threading.Lock()
        # A damaged file is set aside and an unwritable folder gets an in-memory store: parrot starts
        # anyway, and each mode shows ``notices`` (what happened, in one line each).
        self._db, self.notices = open_history(path or paths.history_file, SCHEMA)
        self.path = path  # None: the default file (or memory, when the notices say so)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed turn survives a crash of the machine too
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database written by an earlier parrot up to this schema, losing nothing."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(turns)")}
        if "attachments" not in columns:
            self._db.execute("ALTER TABLE turns ADD COLUMN attachments TEXT")
        if "branch" not in {row[1] for row in self._db.execute("PRAGMA table_info(conversations)")}:
            self._db.execute("ALTER TABLE conversations ADD COLUMN branch INTEGER NOT NULL DEFAULT 1")
        # A kept branch is a whole path (``fork`` 0) under its number; rows from before hold the turns after
        # ``fork`` turns of the current path, and are made whole below, once.
        if "number" not in {row[1] for row in self._db.execute("PRAGMA table_info(branches)")}:
            self._db.execute("ALTER TABLE branches ADD COLUMN number INTEGER")
        self._number_old_branches()
        ensure_index(self._db)

    def _number_old_branches(self) -> None:
        """Branches kept by an earlier parrot: whole paths, numbered 1, 2, ... as they were kept; the current
        path takes the next number."""
        old = self._db.execute("SELECT DISTINCT conversation_id FROM branches WHERE number IS NULL").fetchall()
        for (conversation_id,) in old:
            current = self._turn_records(conversation_id)
            rows = self._db.execute("SELECT id, fork, turns FROM branches WHERE conversation_id = ? ORDER BY id",
                                    (conversation_id,)).fetchall()
            with self._transaction():
                for number, (row, fork, turns) in enumerate(rows, start=1):
                    path = current[:fork] + json.loads(turns)
                    self._db.execute("UPDATE branches SET number = ?, fork = 0, turns = ? WHERE id = ?",
                                     (number, json.dumps(path), row))
                self._db.execute("UPDATE conversations SET branch = ? WHERE id = ?", (len(rows) + 1, conversation_id))

    def branch_kept(self, conversation: Conversation, branch) -> None:
        """Keep a path the conversation parted from (repl.chat.branches.Branch), and the current path's number."""
        if conversation.id is None:
            return  # nothing of it is stored yet
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "INSERT INTO branches (conversation_id, fork, created, turns, number) VALUES (?, 0, ?, ?, ?)",
                (conversation.id, branch.created, json.dumps([turn_record(t) for t in branch.turns]), branch.number))
            branch.id = cursor.lastrowid
            self._db.execute("UPDATE conversations SET branch = ? WHERE id = ?", (conversation.branch, conversation.id))

    def branch_taken(self, conversation: Conversation, branch) -> None:
        """Forget a kept branch (it has become the current one)."""
        if branch.id is None:
            return
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM branches WHERE id = ?", (branch.id,))

    def _branches(self, conversation_id: int) -> list:
        from ..chat.branches import Branch

        rows = self._db.execute("SELECT id, number, created, turns FROM branches WHERE conversation_id = ? "
                                "ORDER BY id", (conversation_id,)).fetchall()
        return [Branch(number, [turn_from_record(r) for r in json.loads(turns)], created, id)
                for id, number, created, turns in rows]

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Conversations whose messages hold ``text``, newest first, each with its matching line."""
        with self._lock:
            return search(self._db, text, limit)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def attach(self, session: Session) -> None:
        """Store every turn of ``session`` from now on, and serve its /history and /load."""
        if self not in session.observers:
            session.observers.append(self)
        session.history = self

    # -- writing: the conversation's changes, as ConversationObserver -------------------------------

    def turn_changed(self, conversation: Conversation, turn: Turn) -> None:
        self.save_turn(conversation, turn)

    def truncated(self, conversation: Conversation) -> None:
        self.sync_length(conversation)

    def save_turn(self, conversation: Conversation, turn: Turn) -> None:
        """Insert or update ``turn`` at its place in ``conversation``, in its own transaction."""
        position = next(i for i, t in enumerate(conversation.turns) if t is turn)
        stats, settings = turn.stats, turn.settings
        now = time.time()
        with self._lock, self._transaction():
            if conversation.id is None:
                conversation.title = conversation.title or _title(turn)
                cursor = self._db.execute(
                    "INSERT INTO conversations (title, created, updated) VALUES (?, ?, ?)",
                    (conversation.title, now, now))
                conversation.id = cursor.lastrowid
            self._db.execute(
                "INSERT OR REPLACE INTO turns (conversation_id, position, role, content, created, backend, model, "
                "settings, seed, prompt_tokens, completion_tokens, time_to_first_token, seconds, finish_reason, "
                "stats, attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation.id, position, turn.message.role, turn.message.content, turn.created,
                 stats.backend if stats else None, stats.model if stats else None,
                 json.dumps(settings.to_dict()) if settings else None,
                 stats.seed if stats else None, stats.prompt_tokens if stats else None,
                 stats.completion_tokens if stats else None, stats.time_to_first_token if stats else None,
                 stats.seconds if stats else None, stats.finish_reason if stats else None,
                 json.dumps(stats.to_dict()) if stats else None,
                 json.dumps(turn.attachments) if turn.attachments else None))
            self._db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation.id))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def sync_length(self, conversation: Conversation) -> None:
        """Forget stored turns past the end of ``conversation`` (after /undo, /retry or a failed reply)."""
        if conversation.id is None:
            return
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM turns WHERE conversation_id = ? AND position >= ?",
                             (conversation.id, len(conversation.turns)))

    # -- reading ---------------------------------------------------------------------------------

    def conversations(self, limit: int = 20) -> list[ConversationInfo]:
        """The most recently updated conversations first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.title, c.updated, COUNT(t.position), "
                "COALESCE(SUM(json_array_length(t.attachments)), 0) FROM conversations c "
                "LEFT JOIN turns t ON t.conversation_id = c.id GROUP BY c.id "
                "HAVING COUNT(t.position) > 0 ORDER BY c.updated DESC, c.id DESC LIMIT ?", (limit,)).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def last_id(self) -> int | None:
        found = self.conversations(limit=1)
        return found[0].id if found else None

    def load(self, conversation_id: int) -> Conversation:
        """A stored conversation with its turns; a missing id is a usage error that says what exists."""
        with self._lock:
            head = self._db.execute("SELECT title, branch FROM conversations WHERE id = ?",
                                    (conversation_id,)).fetchone()
            records = self._turn_records(conversation_id)
            branches = self._branches(conversation_id)
        if head is None or not records:
            raise UsageError(f"there is no conversation {conversation_id}", "parrot history lists them",
                             "/history lists them")
        return Conversation(turns=[turn_from_record(r) for r in records], id=conversation_id, title=head[0],
                            branches=branches, branch=head[1])

    def _turn_records(self, conversation_id: int) -> list[dict]:
        """The stored turns of the current path, as records (``repl.chat.records``)."""
        rows = self._db.execute(
            "SELECT role, content, created, settings, stats, attachments FROM turns WHERE conversation_id = ? "
            "ORDER BY position", (conversation_id,)).fetchall()
        return [{"role": role, "content": content, "created": created,
                 "settings": json.loads(settings) if settings else None, "stats": json.loads(stats) if stats else None,
                 "attachments": json.loads(attached) if attached else []}
                for role, content, created, settings, stats, attached in rows]


def _title(turn: Turn) -> str:
    """A conversation's title: the first prompt as typed, not the text of the files that went with it."""
    text, files = split_composed(turn.message.content, turn.attachments)
    if not text.strip() and files:
        text = "files: " + ", ".join(f.path for f in files)
    return one_line(text, 61)


def history_command(argv: list[str]) -> int:
    """``parrot history [-n N] [ID]``: list stored conversations, or print one as Markdown."""
    import sys

    from rich.console import Console

    from ..cli.usage import Parser
    from ..views.history_tables import conversations_table
    from ..views.terminal_text import for_stream
    from ..views.transcript import as_markdown

    parser = Parser(prog="parrot history", description="List stored conversations, or print one.")
    parser.add_argument("id", nargs="?", type=int, help="print this conversation as Markdown")
    parser.add_argument("-n", "--limit", type=int, default=20, help="how many to list (default 20)")
    parser.add_argument("-s", "--search", metavar="TEXT", help="find conversations whose messages hold TEXT")
    args = parser.parse_args(argv)
    if args.search is not None and args.id is not None:
        parser.error("give an ID or --search TEXT, not both")
    if args.search is not None and not args.search.strip():
        parser.error("--search needs some text to look for")
    if args.limit < 1:
        parser.error("-n must be at least 1")
    if args.id is not None and not 0 <= args.id < 2**63:
        raise UsageError(f"there is no conversation {args.id}", "parrot history lists them")
    store = HistoryStore()
    for notice in store.notices:
        print(f"parrot: {notice}", file=sys.stderr)
    try:
        if args.search is not None:
            from ..views.history_tables import search_table

            Console(highlight=False, soft_wrap=True).print(search_table(store.search(args.search, args.limit),
                                                                        args.search))
        elif args.id is not None:
            # Stored text may hold escape sequences: shown, not obeyed, on a terminal; kept as is in a file.
            print(for_stream(sys.stdout, as_markdown(store.load(args.id))), end="")
        else:
            Console(highlight=False, soft_wrap=True).print(conversations_table(store.conversations(min(args.limit, 10**6))))
    finally:
        store.close()
    return 0
