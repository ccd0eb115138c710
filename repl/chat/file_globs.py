"""Expanding a glob for /file (``src/*.py``, ``~/code/**/*.js``): bounded, stoppable, and said while it runs.

``glob.glob`` walks the whole tree before it returns anything: ``/usr/lib/**/*.py`` reads every folder
under /usr/lib and returns thousands of files, and nothing can stop it meanwhile. The walk here looks
at one folder at a time, so that it can stop as soon as it has more files than a prompt can take, check
a cancel between folders, say how far it got, and refuse a pattern that would look at too many names.
The meaning is glob's with ``recursive=True``: ``*``, ``?`` and ``[...]`` within a name, ``**`` for any
number of folders, and names that start with a dot only where the pattern's part does too. A folder
reached through a symlink is not walked by ``**`` (a link back up would never end).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from backends.cancel import Cancel
from backends.errors import Cancelled, UsageError
from backends.paths import user_path

MAX_NAMES = 200_000  # folder entries one pattern may look at: more is a search of the disk, not a list of files
PROGRESS_SECONDS = 0.25


@dataclass
class Walk:
    """One pattern's walk: what it has looked at, and what stops it."""

    pattern: str
    cancel: Cancel | None = None
    progress: Callable[[str], None] | None = None
    names: int = 0
    found: set[str] = field(default_factory=set)
    _said: float = field(default_factory=time.monotonic)
    _last: tuple[str, list[os.DirEntry]] | None = None  # ``**`` lists a folder for its own part, then to go down

    def entries(self, folder: str) -> list[os.DirEntry]:
        """The entries of ``folder``, sorted; an unreadable folder has none (as glob treats it)."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"stopped expanding {self.pattern}")
        if self._last is not None and self._last[0] == folder:
            return self._last[1]
        try:
            with os.scandir(folder) as scan:
                found = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            return []
        self._last = folder, found
        self.names += len(found)
        if self.names > MAX_NAMES:
            raise UsageError(f"{self.pattern} looks at more than {MAX_NAMES:,} names without ending",
                             "start the pattern in a smaller folder")
        now = time.monotonic()
        if self.progress is not None and now - self._said > PROGRESS_SECONDS:
            self._said = now
            self.progress(f"/file: looked at {self.names:,} names, {len(self.found)} match (Esc stops)")
        return found


def expand_glob(pattern: str, most: int, cancel: Cancel | None = None,
                progress: Callable[[str], None] | None = None) -> list[str]:
    """The files (not folders) ``pattern`` matches, sorted; UsageError past ``most`` of them, Cancelled on a cancel."""
    walk = Walk(pattern, cancel, progress)
    expanded = str(user_path(pattern))
    parts = expanded.split(os.sep)
    first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    # The fixed start of the pattern is the folder the walk begins in ("" for a relative pattern: the
    # current folder, and names shown without "./", as glob shows them).
    start = os.sep.join(parts[:first]) or (os.sep if first else "")
    for path in _match(walk, start or os.curdir, start, parts[first:]):
        if path not in walk.found and not os.path.isdir(path):
            walk.found.add(path)
            if len(walk.found) > most:
                raise UsageError(f"{pattern} matches more than {most} files, more than one prompt takes",
                                 "name fewer: a narrower pattern, or the files themselves")
    return sorted(walk.found)


def _match(walk: Walk, folder: str, shown: str, parts: list[str]) -> Iterator[str]:
    """Paths under ``folder`` (named ``shown``) that match the pattern's remaining ``parts``."""
    if not parts:
        yield shown
        return
    part, rest = parts[0], parts[1:]
    if not glob.has_magic(part):
        path = os.path.join(folder, part)
        if rest and os.path.isdir(path):
            yield from _match(walk, path, os.path.join(shown, part), rest)
        elif not rest and os.path.lexists(path):
            yield os.path.join(shown, part)
        return
    if part == "**":
        yield from _match(walk, folder, shown, rest)  # no folder at all
        for entry in walk.entries(folder):
            if entry.name.startswith("."):
                continue
            if not rest:
                yield os.path.join(shown, entry.name)
            if entry.is_dir(follow_symlinks=False):
                yield from _match(walk, entry.path, os.path.join(shown, entry.name), parts)
        return
    for entry in walk.entries(folder):
        if entry.name.startswith(".") and not part.startswith("."):
            continue
        if not fnmatch.fnmatchcase(entry.name, part):
            continue
        if not rest:
            yield os.path.join(shown, entry.name)
        elif entry.is_dir():
            yield from _match(walk, entry.path, os.path.join(shown, entry.name), rest)
