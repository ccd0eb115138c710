"""``cat f.py | parrot --chat "explain this"``: a piped start that goes on as a chat.

The piped text becomes an attachment of the first prompt (shown as ``stdin``); once it is read,
the spent pipe on file descriptor 0 is swapped for the terminal (``/dev/tty``), so the app or the
plain REPL read keys from the person, not from the pipe.
"""

from __future__ import annotations

import os
import sys

from backends.errors import UsageError

from ..chat.attachments import Attachment

NO_TERMINAL = UsageError("--chat goes on in a terminal, and this process has none",
                         "drop --chat to get the answer on stdout")


def check_terminal() -> int:
    """Open the controlling terminal (before anything is read or loaded); UsageError if there is none."""
    if not sys.stdout.isatty():
        raise UsageError("--chat shows the chat on the terminal, but stdout is not one",
                         "drop --chat to write the answer to a file or pipe")
    try:
        return os.open("/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        raise NO_TERMINAL from None


def take_terminal(fd: int) -> None:
    """Make the terminal the process's stdin, in place of the pipe that was read to its end."""
    os.dup2(fd, 0)
    os.close(fd)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115  lives as long as the process


def first_prompt(prompt: str | None, piped: str | None) -> tuple[str, list[Attachment]]:
    """The first prompt of the chat and the piped text as its attachment."""
    files = [Attachment.from_text("stdin", piped)] if piped and piped.strip() else []
    if not files and not (prompt and prompt.strip()):
        raise UsageError("nothing to start the chat with: the prompt and stdin are empty",
                         "pass a prompt or pipe text in")
    return prompt or "", files
