"""Where the chat app runs: a terminal that can host a full-screen app gets it, any other the plain REPL.

Kept apart from ``app`` so that the plain fallback (TERM=dumb, a pipe) never imports Textual.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from backends.settings import GenerationSettings

from ..views import library_bars


def can_host_app() -> bool:
    """False for terminals a full-screen app cannot use (TERM=dumb, unknown, or not a terminal)."""
    term = os.environ.get("TERM", "")
    return sys.stdout.isatty() and sys.stdin.isatty() and term not in {"", "dumb", "unknown"}


def run_app(backend_name: str, model: str | None, settings: GenerationSettings, options: dict[str, Any],
            *, resume: bool = False, first: tuple[str, list] | None = None) -> int:
    """Run the chat app until the person quits; falls back to the plain REPL where the app cannot run."""
    if not can_host_app():
        from .plain import run_plain

        return run_plain(backend_name, model, settings, options, resume=resume, first=first)
    library_bars.keep_off()  # progress bars would scribble over the screen
    from ..app.chat_app import ChatApp

    app = ChatApp(backend_name, model, settings, options, resume=resume, first=first)
    app.run()
    app.history.close()
    # The conversation is stored and the terminal is back: leave now. Python's own exit would first tear
    # down torch and every module (1 to 3 s on a busy 2-core machine) and wait for any worker still in a
    # native call; quitting is meant to take well under a second, whatever runs.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(app.return_code or 0)
