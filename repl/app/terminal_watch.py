"""Leaving when the terminal goes away (a closed window, a killed tmux, a dropped ssh session).

A hung-up terminal reads as end-of-file forever, and Textual's input thread then spins a core at
100% without end. The hangup signal does not always reach parrot either: the kernel sends it to the
terminal's session leader (``make run``, a shell that started parrot), which dies without passing it
on. So the app asks the terminal itself, once a second, whether it is still there.
"""

from __future__ import annotations

import os
import signal
import sys
import termios
from typing import Any

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


def leave_when_gone(app: Any) -> None:
    """Check ``app``'s terminal once a second; once it has hung up, a reply in progress stops (what
    arrived is kept), then parrot exits."""
    terminal = terminal_fd()
    if terminal is None:
        return
    checks_left = [3]  # how long a streaming reply gets to record its end

    def check() -> None:
        if terminal_present(terminal):
            return
        app.chat.cancel.set()
        if app.chat.replying and checks_left[0] > 0:  # the reply's end is recorded by the next check
            checks_left[0] -= 1
            return
        # Not app.exit(): Textual's exit writes to the terminal through a writer thread that the
        # hangup has ended, and waits on its full queue forever. The conversation is stored: leave now.
        app.history.close()
        os._exit(HANGUP_EXIT)

    app.set_interval(CHECK_SECONDS, check)
