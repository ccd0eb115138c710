"""Finding old conversations by what was said in them: an SQLite FTS5 index over every turn's text.

The index is an external-content FTS5 table over ``turns`` (no second copy of the text), kept in
step by triggers, with the trigram tokenizer so that a piece of an identifier (``stream_rep``)
finds it as grep would, in any case. A database written before the index existed is indexed once,
when it is first opened.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from backends.one_line import one_line

INDEX_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS turns_fts USING fts5(content, content='turns', content_rowid='rowid',
                                                       tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS turns_fts_insert AFTER INSERT ON turns BEGIN
    INSERT INTO turns_fts(rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER IF NOT EXISTS turns_fts_delete AFTER DELETE ON turns BEGIN
    INSERT INTO turns_fts(turns_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER IF NOT EXISTS turns_fts_update AFTER UPDATE OF content ON turns BEGIN
    INSERT INTO turns_fts(turns_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO turns_fts(rowid, content) VALUES (new.rowid, new.content);
END;
"""


@dataclass(frozen=True)
class SearchHit:
    """One conversation that matched: its newest matching turn and the line that matched."""

    conversation_id: int
    title: str
    role: str
    line: str
    created: float

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created))


def ensure_index(db: sqlite3.Connection) -> None:
    """Create the index and its triggers; fill it from the turns already stored, once."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'turns_fts'").fetchone()
    db.executescript(INDEX_SCHEMA)
    if not exists:
        db.execute("INSERT INTO turns_fts(turns_fts) VALUES ('rebuild')")


def search(db: sqlite3.Connection, text: str, limit: int = 20) -> list[SearchHit]:
    """Conversations whose turns hold ``text`` (a substring, any case), the most recent first."""
    needle = " ".join(text.split())
    if len(needle) < 3:
        return _search_short(db, needle, limit)  # trigrams need three characters
    rows = db.execute(
        "SELECT t.conversation_id, c.title, t.role, t.content, t.created FROM turns_fts f "
        "JOIN turns t ON t.rowid = f.rowid JOIN conversations c ON c.id = t.conversation_id "
        "WHERE turns_fts MATCH ? ORDER BY c.updated DESC, t.created DESC",
        ('"' + needle.replace('"', '""') + '"',)).fetchall()
    return _hits(rows, needle, limit)


def _search_short(db: sqlite3.Connection, needle: str, limit: int) -> list[SearchHit]:
    rows = db.execute(
        "SELECT t.conversation_id, c.title, t.role, t.content, t.created FROM turns t "
        "JOIN conversations c ON c.id = t.conversation_id WHERE instr(lower(t.content), lower(?)) > 0 "
        "ORDER BY c.updated DESC, t.created DESC", (needle,)).fetchall()
    return _hits(rows, needle, limit)


def _hits(rows: list[tuple], needle: str, limit: int) -> list[SearchHit]:
    hits: dict[int, SearchHit] = {}
    for conversation_id, title, role, content, created in rows:
        if conversation_id not in hits:
            hits[conversation_id] = SearchHit(conversation_id, title, role, matching_line(content, needle), created)
        if len(hits) >= limit:
            break
    return list(hits.values())


def matching_line(content: str, needle: str, width: int = 80) -> str:
    """The first line that holds ``needle`` (words may span lines), cut around it to ``width``."""
    lowered = needle.lower()
    for line in content.splitlines():
        at = line.lower().find(lowered)
        if at >= 0:
            start = max(0, at - width // 3)
            piece = line[start:start + width].strip()
            return ("…" if start else "") + piece + ("…" if start + width < len(line) else "")
    return one_line(content, width)
