"""Opening parrot's stores so that a damaged or unwritable home never stops parrot from starting.

A history database that is not SQLite, cut short or damaged is renamed aside (never deleted), a
fresh one takes its place, and every row that can still be read is copied over. A data folder
that cannot be written gets an in-memory store holding a copy of what was there. Each case
leaves one notice, which the mode shows in its own way.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any, Callable

from backends import paths

from ..safe_files import size_text

HEADER = b"SQLite format 3\x00"
PROMPT_HISTORY_LIMIT = 8 * 1024 * 1024


class Damaged(Exception):
    """The database file cannot be trusted; the message says why."""


def open_history(path: Path | Callable[[], Path], schema: str) -> tuple[sqlite3.Connection, list[str]]:
    """A connection to the history database at ``path`` (or the path the callable returns) and notices."""
    try:
        path = path() if callable(path) else path
    except paths.HomeReadOnly as error:
        return _memory(None, schema), [f"{error.message}; this conversation will not be stored"]
    if not paths.writable(path.parent) or (path.exists() and not (path.stat().st_mode & 0o222
                                                                    and os.access(path, os.W_OK))):
        return _memory(path, schema), [f"{path.parent} is read-only: this conversation will not be stored "
                                       "(make the folder writable, or set PARROT_HOME to another folder)"]
    try:
        _check(path)
        db = _connect(path)
        db.executescript(schema)
        return db, []
    except (Damaged, sqlite3.DatabaseError) as error:
        return _set_aside(path, schema, str(error))


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, check_same_thread=False, isolation_level=None)


def _check(path: Path) -> None:
    """Raise Damaged unless ``path`` is missing, empty, or an SQLite file whose pages all read back."""
    if not os.path.lexists(path):
        return
    try:
        info = path.stat()
    except OSError as error:
        raise Damaged(f"it cannot be read: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        from ..safe_files import kind_of

        raise Damaged(f"it is {kind_of(info.st_mode)}")
    if info.st_size == 0:
        return
    with open(path, "rb") as handle:
        head = handle.read(100)
    if not head.startswith(HEADER):
        raise Damaged("it is not an SQLite database")
    if len(head) < 100:
        raise Damaged("it is cut short")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    valid_count = head[92:96] == head[24:28]  # the page count is only kept up to date when these match
    if valid_count and pages and path.stat().st_size < page_size * pages:
        raise Damaged(f"it is cut short ({path.stat().st_size} of {page_size * pages} bytes)")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = db.execute("PRAGMA quick_check").fetchall()
    finally:
        db.close()
    if found != [("ok",)]:
        raise Damaged("it is damaged: " + str(found[0][0]).splitlines()[0])


def _set_aside(path: Path, schema: str, reason: str) -> tuple[sqlite3.Connection, list[str]]:
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    while aside.exists():
        aside = aside.with_name(aside.name + "x")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):  # the journal belongs to the damaged file, not to the new one
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    db = _connect(path)
    db.executescript(schema)
    conversations, rows = _recover(aside, db)
    kept = (f"{conversations} conversation(s) and {rows} row(s) could be read back" if rows
            else "nothing in it could be read back")
    return db, [f"the history database was damaged ({reason}); it was set aside as {aside} and a new one "
                f"started: {kept}"]


def _recover(source: Path, db: sqlite3.Connection) -> tuple[int, int]:
    """Copy every readable row of ``source`` into ``db``; (conversations, rows) copied."""
    padded = _padded_copy(source)
    try:
        return _recover_from(padded or source, db)
    finally:
        if padded is not None:
            padded.unlink(missing_ok=True)


def _padded_copy(source: Path) -> Path | None:
    """A file cut short is refused whole by SQLite; a copy padded back to its size reads up to the cut."""
    try:
        with open(source, "rb") as handle:
            head = handle.read(100)
        if not head.startswith(HEADER) or len(head) < 100:
            return None
        page_size = int.from_bytes(head[16:18], "big")
        expected = (65536 if page_size == 1 else page_size) * int.from_bytes(head[28:32], "big")
        if source.stat().st_size >= expected:
            return None
        copy = source.with_name(source.name + ".reading")
        shutil.copyfile(source, copy)
        with open(copy, "r+b") as handle:
            handle.truncate(expected)
        return copy
    except OSError:
        return None


def _recover_from(source: Path, db: sqlite3.Connection) -> tuple[int, int]:
    try:
        old = sqlite3.connect(f"file:{source}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return 0, 0
    copied = 0
    try:
        db.execute("PRAGMA foreign_keys=OFF")
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        for table in tables:
            copied += _copy_table(old, db, table)
        conversations = _count(db, "SELECT COUNT(*) FROM conversations")
        if "turns" in tables and "conversations" in tables:  # turns whose conversation row was lost
            try:
                db.execute("INSERT OR IGNORE INTO conversations (id, title, created, updated) "
                           "SELECT DISTINCT conversation_id, '(recovered)', MIN(created), MAX(created) FROM turns "
                           "WHERE conversation_id NOT IN (SELECT id FROM conversations) GROUP BY conversation_id")
                conversations = _count(db, "SELECT COUNT(*) FROM conversations")
            except sqlite3.Error:
                pass
    finally:
        old.close()
        db.execute("PRAGMA foreign_keys=ON")
    return conversations, copied


def _copy_table(old: sqlite3.Connection, db: sqlite3.Connection, table: str) -> int:
    try:
        theirs = {r[1] for r in old.execute(f'PRAGMA table_info("{table}")')}
    except sqlite3.Error:
        return 0
    columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")') if r[1] in theirs]
    if not columns:
        return 0
    names = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    copied = 0
    # A scan stops at the first unreadable page; scanning from the other end too reaches rows past it.
    for order in ("ASC", "DESC"):
        try:
            for row in old.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid {order}'):
                copied += db.execute(insert, row).rowcount
        except sqlite3.Error:
            continue
    return copied


def _count(db: sqlite3.Connection, sql: str) -> int:
    try:
        return int(db.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0


def _memory(path: Path | None, schema: str) -> sqlite3.Connection:
    """An in-memory store, holding a copy of the database at ``path`` when it can be read."""
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    if path is not None and path.exists():
        try:
            old = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
            try:
                old.backup(db)
            finally:
                old.close()
        except sqlite3.Error:
            pass
    db.executescript(schema)
    return db


def prompt_history(path_of: Callable[[], Path]) -> tuple[Any, str | None]:
    """The Up/Down history: the shared file where it can be used, else one kept in memory (and why)."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        path = path_of()
    except paths.HomeReadOnly:
        return InMemoryHistory(), None  # the history store already says the home is not writable
    try:
        info = path.stat() if path.exists() else None
    except OSError:
        info = None
    if info is not None and not path.is_file():
        return InMemoryHistory(), f"{path} is not a regular file; prompts are not remembered this time"
    if info is not None and info.st_size > PROMPT_HISTORY_LIMIT:
        return InMemoryHistory(), f"{path} is over the {size_text(PROMPT_HISTORY_LIMIT)} limit; prompts are not remembered this time (remove it)"
    if not paths.writable(path.parent) or (info is not None and not info.st_mode & 0o222):
        return InMemoryHistory(), None
    return FileHistory(str(path)), None
