"""Where parrot keeps its files: per-user config, data and cache folders, and every name inside them.

``PARROT_HOME`` moves all three under one folder (tests use it so they never touch the real home).
This is the one module that knows a file or folder name of parrot's own; everything else asks here.
"""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UsageError

APP = "parrot"


def _home() -> Path | None:
    value = os.environ.get("PARROT_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Folder for config.toml."""
    if home := _home():
        return _ensure(home / "config")
    import platformdirs

    return _ensure(Path(platformdirs.user_config_dir(APP)))


def data_dir() -> Path:
    """Folder for history, prompt history and fine-tuned checkpoints."""
    if home := _home():
        return _ensure(home / "data")
    import platformdirs

    return _ensure(Path(platformdirs.user_data_dir(APP)))


def cache_dir() -> Path:
    """Folder for converted model copies and other things that can be rebuilt."""
    if home := _home():
        return _ensure(home / "cache")
    import platformdirs

    return _ensure(Path(platformdirs.user_cache_dir(APP)))


# -- what lives where --------------------------------------------------------------------------

def config_file() -> Path:
    """config.toml: defaults a person sets once."""
    return config_dir() / "config.toml"


def history_file() -> Path:
    """Every conversation, in SQLite."""
    return data_dir() / "history.sqlite3"


def prompt_history_file() -> Path:
    """The prompts typed in the app and the plain REPL (Up/Down walk them)."""
    return data_dir() / "prompt_history"


ERROR_LOG = "errors.log"


def error_log() -> Path:
    """Tracebacks of unexpected errors (the screen shows one line)."""
    return data_dir() / ERROR_LOG


def evals_dir() -> Path:
    """One JSON file per evaluation run."""
    return data_dir() / "evals"


def exports_dir() -> Path:
    """Where /export writes when it is given no path."""
    return data_dir() / "exports"


def tokenizers_dir() -> Path:
    """Tokenizers trained with /tokenizer train, one folder each."""
    return data_dir() / "tokenizers"


def finetuned_dir(name: str) -> Path:
    """The model a fine-tuning run ``name`` (e.g. ``js``) produced: a preset of that name loads it."""
    return data_dir() / "finetuned" / name


def runs_dir() -> Path:
    """Fine-tuning runs in progress or stopped: checkpoints, progress, the job record."""
    return data_dir() / "runs"


def run_dir(name: str) -> Path:
    """Where one run's checkpoints, settings and progress events live."""
    return runs_dir() / name


def converted_models_dir() -> Path:
    """Ready-to-run copies of models (converted GGUF files, fast-start decoders): rebuilt if deleted."""
    return cache_dir() / "models"


class HomeError(UsageError):
    """parrot's folder cannot be used: a part of its path is a file, or it cannot be created."""


class HomeReadOnly(HomeError):
    """parrot's folder cannot be created or written (permissions, a read-only file system)."""


def _ensure(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise HomeError(f"parrot cannot use the folder {path}: {blocker} is a file, not a folder",
                        _fix()) from None
    except OSError as error:
        reason = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                  errno.EROFS: "the file system is read-only", errno.ENOSPC: "the disk is full"}
        raise HomeReadOnly(f"parrot cannot create the folder {path}: "
                           f"{reason.get(error.errno or 0, (error.strerror or 'it failed').lower())}", _fix()) from None
    return path


def _fix() -> str:
    if _home() is not None:
        return "point PARROT_HOME at a folder you can write to"
    return "fix the folder's permissions, or set PARROT_HOME to a folder you can write to"


def writable(folder: Path) -> bool:
    """Whether parrot may write into ``folder``. Its mode bits count even for root: 0555 means read-only."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return bool(mode & 0o222) and os.access(folder, os.W_OK | os.X_OK)


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; rename it into place only if the block succeeds.

    A process killed half-way leaves a ``.tmp`` folder that nothing loads, never a half ``final``.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        if final.exists():
            import shutil

            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
