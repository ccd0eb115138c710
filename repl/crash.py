"""The one place an unexpected exception becomes a one-line message and a log entry.

A bug a person hits must be reportable without a traceback on their screen: the traceback goes to
``errors.log`` in the data folder (or the temp folder when that cannot be written), and the person
sees one line naming the error and that file. Every mode calls ``unexpected``.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

from backends import paths
from backends.errors import ParrotError

LOG_LIMIT = 1024 * 1024  # past this the log starts over, so a loop of failures cannot fill a disk


class UnexpectedError(ParrotError):
    """An exception parrot did not expect, already logged; exit code 1."""


def log_path() -> Path:
    """Where tracebacks go: the data folder, else the temp folder."""
    try:
        return paths.error_log()
    except Exception:  # noqa: BLE001  a broken home must not hide the error being reported
        return Path(tempfile.gettempdir()) / f"parrot-{os.getuid() if hasattr(os, 'getuid') else 'user'}-{paths.ERROR_LOG}"


def unexpected(error: BaseException, doing: str = "") -> UnexpectedError:
    """Log ``error`` with its traceback; return the one-line error to show instead."""
    where = _write_log(error, doing)
    first = (str(error).strip().splitlines() or [""])[0][:200]
    what = f"{type(error).__name__}: {first}" if first else type(error).__name__
    prefix = f"{doing} failed unexpectedly" if doing else "unexpected error"
    hint = f"the details are in {where}" if where else "the details could not be logged"
    return UnexpectedError(f"{prefix}: {what}", hint)


def _write_log(error: BaseException, doing: str) -> Path | None:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    entry = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {doing or 'parrot'}\n{text}\n"
    for path in (log_path(), Path(tempfile.gettempdir()) / f"parrot-{paths.ERROR_LOG}"):
        try:
            mode = "w" if path.exists() and path.stat().st_size > LOG_LIMIT else "a"
            with open(path, mode, encoding="utf-8", errors="replace") as handle:
                handle.write(entry)
            return path
        except OSError:
            continue
    return None
