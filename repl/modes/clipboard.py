"""Copying text out of parrot (/copy, Ctrl-Y), and saying which way it went.

The terminal's own clipboard request (OSC 52) is sent always: it works over ssh with no tools, but a
terminal may drop it without a word (tmux does by default), so it alone never counts as "copied". A
clipboard tool where one is installed (pbcopy, wl-copy, xclip, xsel) puts the text on the system's
clipboard, and inside tmux its paste buffer gets it too; the message names each that took it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Callable

from backends.errors import UsageError

TOOL_SECONDS = 3.0  # a clipboard tool that hangs (an X server gone away) must not hold the command

# (tool, arguments, when it applies): the first that applies, is installed and succeeds takes the text.
TOOLS: tuple[tuple[str, tuple[str, ...], Callable[[], bool]], ...] = (
    ("pbcopy", (), lambda: sys.platform == "darwin"),
    ("wl-copy", (), lambda: bool(os.environ.get("WAYLAND_DISPLAY"))),
    ("xclip", ("-selection", "clipboard"), lambda: bool(os.environ.get("DISPLAY"))),
    ("xsel", ("--clipboard", "--input"), lambda: bool(os.environ.get("DISPLAY"))),
)


def copy_text(text: str, terminal: Callable[[str], None] | None) -> str:
    """Put ``text`` wherever it can go; ``terminal`` sends the terminal's clipboard request. Returns the
    sentence that tells the person where it went; raises UsageError when nothing could take it."""
    if terminal is not None:
        terminal(text)
    ways = [way for way in (_system_clipboard(text), _tmux_buffer(text)) if way]
    count = f"{len(text):,} characters"
    if ways:
        return f"copied {count} to " + " and ".join(ways)
    if terminal is None:
        raise UsageError(f"could not copy {count}: there is no terminal here and no clipboard tool",
                         "install wl-copy, xclip or xsel, or use /export")
    return (f"sent {count} to the terminal's clipboard (OSC 52); a terminal that does not take it, as tmux "
            "by default, drops it without a word: install wl-copy, xclip or xsel to be sure")


def _system_clipboard(text: str) -> str | None:
    for tool, arguments, applies in TOOLS:
        if applies() and (path := shutil.which(tool)) and _feed([path, *arguments], text):
            return f"the clipboard ({tool})"
    return None


def _tmux_buffer(text: str) -> str | None:
    if not os.environ.get("TMUX") or not (tmux := shutil.which("tmux")):
        return None
    # -w: tmux 3.2 and later also hand it to the terminal's clipboard, where tmux is let to (its default).
    if _feed([tmux, "load-buffer", "-w", "-"], text) or _feed([tmux, "load-buffer", "-"], text):
        return "tmux's paste buffer (prefix ] pastes it)"
    return None


def _feed(command: list[str], text: str) -> bool:
    """Run a clipboard tool with ``text`` on its stdin; True if it took it."""
    try:
        # No pipes on stdout/stderr: xclip and wl-copy leave a child behind that keeps them open.
        done = subprocess.run(command, input=text.encode(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=TOOL_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
