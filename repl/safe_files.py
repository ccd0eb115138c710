"""Reading and writing the files and streams a person names, safely and in one line when refused.

Reading: only regular files (never a device, FIFO or folder, which may never end or block), with a
size limit, so ``/load /dev/zero`` or ``parrot < /dev/zero`` is refused at once instead of eating
memory. Writing: through a temporary file and a rename, but never replacing something that is not a
regular file (``/dev/full``), writing through a symlink instead of replacing it, refusing a
read-only target, and keeping an existing file's mode. Every OSError becomes a UsageError that
names the path and says what to do.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from backends.errors import UsageError

MB = 1024 * 1024
DEFAULT_LIMIT = 16 * MB


class FileRefused(UsageError):
    """A named file or stream that parrot will not read or write, with the reason and the fix."""


def size_text(count: int) -> str:
    """A size as people read it: '310 bytes', '1.2 KiB', '16.0 MiB' (the one unit rule of every message)."""
    if count < 1024:
        return f"{count} bytes"
    return f"{count / 1024:.1f} KiB" if count < MB else f"{count / MB:.1f} MiB"


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """'a folder', 'a character device', ... for what is not a regular file."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


_REASONS = {
    errno.ENOENT: "it does not exist", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
    errno.ENOTDIR: "a part of the path is a file, not a folder", errno.EISDIR: "it is a folder",
    errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only", errno.ELOOP: "too many symlinks",
    errno.ENAMETOOLONG: "the name is too long", errno.EFBIG: "the file would be too large",
    errno.EIO: "an input/output error",
}


def describe_os_error(error: OSError) -> str:
    """A short reason for an OSError, without Python's '[Errno N]' noise."""
    return _REASONS.get(error.errno or 0, (error.strerror or type(error).__name__).lower())


# -- reading -------------------------------------------------------------------------------------

def read_bytes(path: str | Path, what: str = "file", limit: int = DEFAULT_LIMIT,
               folder_hint: str = "give the path of a regular file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit``; anything else is a FileRefused.

    ``what`` names the file's role in the size message ("over the 16.0 MiB limit for a script");
    ``folder_hint`` says what to do when a folder is named instead of a file.
    """
    shown = Path(path)
    path = shown.expanduser()
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not hang; a regular file ignores the flag.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        try:  # a socket cannot even be opened (ENXIO): say what it is
            mode = os.stat(path).st_mode
        except OSError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            _refuse_kind(shown, mode, folder_hint)
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileRefused(f"no such file: {shown}", "check the path") from None
        raise FileRefused(f"cannot read {shown}: {describe_os_error(error)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            _refuse_kind(shown, info.st_mode, folder_hint)
        if info.st_size > limit:
            raise FileRefused(f"{shown} is {size_text(info.st_size)}, over the {size_text(limit)} limit for a {what}",
                              "give a smaller file")
        data = _read_at_most(fd, limit + 1)  # a file that grows while read (or a /proc file) is still bounded
    except OSError as error:
        raise FileRefused(f"cannot read {shown}: {describe_os_error(error)}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(f"{shown} is over the {size_text(limit)} limit for a {what}", "give a smaller file")
    return data


def _refuse_kind(shown: Path, mode: int, folder_hint: str) -> None:
    hint = folder_hint if stat.S_ISDIR(mode) else "give the path of a regular file"
    raise FileRefused(f"{shown} is {kind_of(mode)}, not a regular file", hint)


def _read_at_most(fd: int, count: int) -> bytes:
    chunks, left = [], count
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def decode(data: bytes, what: str, warn: Callable[[str], None] | None = None) -> str:
    """UTF-8 text; invalid bytes become U+FFFD and ``warn`` is told once (without it they are refused)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if warn is None:
            raise FileRefused(f"{what} is not valid UTF-8 (byte {error.start})", "save it as UTF-8") from None
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    warn(f"{what} is not valid UTF-8; {bad} invalid byte sequence(s) were replaced with U+FFFD")
    return text


def read_text(path: str | Path, what: str = "file", limit: int = DEFAULT_LIMIT,
              warn: Callable[[str], None] | None = None) -> str:
    """``read_bytes`` then ``decode``."""
    return decode(read_bytes(path, what, limit), f"the {what} {path}", warn)


def read_stream(stream: BinaryIO, what: str = "stdin", limit: int = DEFAULT_LIMIT) -> bytes:
    """All of a stream, refused past ``limit`` (``parrot < /dev/zero`` would never end)."""
    data = stream.read(limit + 1)
    if data is not None and len(data) > limit:
        raise FileRefused(f"{what} holds more than {size_text(limit)}, the most parrot reads", "send less text")
    return data or b""


def read_lines(stream: BinaryIO, what: str = "stdin", line_limit: int = MB,
               warn: Callable[[str], None] | None = None) -> Iterator[str]:
    """Lines of a stream as they arrive (a script may still be typing), each at most ``line_limit``."""
    warned = False
    number = 0
    while True:
        raw = stream.readline(line_limit + 1)
        if not raw:
            return
        number += 1
        if len(raw) > line_limit and not raw.endswith(b"\n"):
            raise FileRefused(f"line {number} of {what} is longer than {size_text(line_limit)}",
                              "split it, or give the text in smaller pieces")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            if not warned and warn is not None:
                warn(f"{what} is not valid UTF-8 (line {number} first); invalid bytes were replaced with U+FFFD")
                warned = True
            yield raw.decode("utf-8", errors="replace")


# -- writing -------------------------------------------------------------------------------------

def write_text(path: str | Path, text: str, what: str = "file") -> Path:
    """Write ``text`` to ``path`` atomically and safely (see the module docstring); returns the path written."""
    named = Path(path).expanduser()
    target = Path(os.path.realpath(named))  # a symlink is written through, never replaced by a file
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise FileRefused(f"cannot write {named}: {describe_os_error(error)}", "choose another path") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"cannot write {named}: it is a folder", "give a file name inside it")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"cannot write {named}: it is {kind_of(info.st_mode)}, not a regular file",
                              "choose the path of a regular file")
        if not info.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise FileRefused(f"{named} is read-only; parrot does not overwrite it",
                              f"choose another path, or make it writable (chmod u+w {named})")
    folder = target.parent
    if not folder.is_dir():
        reason = "is a file" if folder.exists() else "does not exist"
        raise FileRefused(f"cannot write {named}: the folder {folder} {reason}", "create the folder or choose another path")
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as error:
        raise FileRefused(f"cannot write {named}: {describe_os_error(error)}",
                          "free some space or choose another path" if error.errno in (errno.ENOSPC, errno.EDQUOT)
                          else "choose another path") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return named


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
