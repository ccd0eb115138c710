"""Leaving when the terminal goes away (a closed window, a killed tmux, a dropped ssh session).

A hung-up terminal reads as end-of-file forever, and Textual's input thread then spins a core at
100% without end. The hangup signal does not always reach parrot either: the kernel sends it to the
terminal's session leader (``make run``, a shell that started parrot), which dies without passing it
on. So the app asks the terminal itself, once a second, whether it is still there.
"""

from __future__ import annotations

import signal
import sys
import termios

from ..cli.exits import signal_exit

CHECK_SECONDS = 1.0
HANGUP_EXIT = signal_exit(signal.SIGHUP)  # as if the hangup had reached parrot


def terminal_fd() -> int | None:
    """The terminal the app reads, or None when there is none to watch (a test, a pipe)."""
    stream = sys.__stdin__
    if stream is None:
        return None
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return None
    return fd if terminal_present(fd) else None


def terminal_present(fd: int) -> bool:
    """False once the terminal has hung up: its file then answers every request with EIO."""
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError):
        return False
    return True
