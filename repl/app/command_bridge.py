"""Slash-commands in the app: each runs in a thread, and reaches the screen through the command UI protocol.

A command may block (a secret prompt, a model switch, a download) without freezing the window. It
talks to the screen only through the methods below (show, generate, quit, clear, edit, read_secret,
after_load, progress), which the plain REPL and scripts implement too; each hops to the UI thread. When the
command is over the app hears ``CommandBridge.Done`` and brings the log and the status bar in line.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from textual.app import App
from textual.message import Message

from backends.errors import BackendError, ParrotError

from .. import commands
from ..chat.activity import Activity
from ..chat.session import Session
from ..commands.context import Context
from ..crash import unexpected
from .widgets import SecretScreen


class CommandBridge:
    """The command UI protocol for ``app``, and the worker that runs one command line."""

    wide = True  # commands may show columns here (/compare side by side) where other modes stack text

    class Done(Message):
        """A command has finished (or failed); what it changed may now be shown."""

    def __init__(self, app: App, session: Session, activity: Activity,
                 on_finetune_started: Callable[[Any], None] | None = None) -> None:
        self.app = app
        self.main_thread = threading.get_ident()
        self.context = Context(session, self, activity, clipboard=self.copy, on_finetune_started=on_finetune_started)

    @property
    def chat(self) -> Any:
        return self.app.chat  # type: ignore[attr-defined]

    def run(self, line: str) -> None:
        """Run ``line`` in a thread worker; one command at a time."""
        self.app.run_worker(lambda: self._run(line), thread=True, exclusive=True, exit_on_error=False, group="command")

    def _run(self, line: str) -> None:
        try:
            commands.run(line, self.context)
        except ParrotError as error:
            self.app.call_from_thread(self._show_error, error, line)
        except Exception as error:  # noqa: BLE001  a broken command must not take the chat down
            self.app.call_from_thread(self._show_error, unexpected(error, line.split()[0]), line)
        self.app.post_message(self.Done())

    def _show_error(self, error: ParrotError, line: str) -> None:
        self.app.notify(str(error), title=line.split()[0], severity="error", timeout=8)

    # -- the command UI protocol: called from the command's thread -------------------------------

    def show(self, renderable: Any) -> None:
        self.on_ui(self.chat.show_note, renderable)

    def after_load(self, text: str) -> None:
        """Say ``text`` once the model a command switched to has loaded (nothing if it fails)."""
        self.app.loader.after_load = text  # type: ignore[attr-defined]

    def generate(self, branch: tuple[int, int] | None = None) -> None:
        self.on_ui(self.app.start_reply, None, branch)  # type: ignore[attr-defined]

    def progress(self, text: str | None) -> None:
        self.on_ui(self.app.status.show_work, text)  # type: ignore[attr-defined]

    def quit(self) -> None:
        self.on_ui(self.app.action_quit)  # type: ignore[attr-defined]

    def clear(self) -> None:
        self.on_ui(self.chat.clear)

    def edit(self, text: str) -> None:
        """/edit: the prompt goes back in the input, to be changed and sent."""
        self.on_ui(self.app.put_back, text)  # type: ignore[attr-defined]

    def read_secret(self, prompt: str) -> str | None:
        if threading.get_ident() == self.main_thread:
            raise BackendError("a secret can only be asked for from a command")
        answered = threading.Event()
        result: list[str | None] = [None]

        def closed(value: str | None) -> None:
            result[0] = value
            answered.set()

        self.app.call_from_thread(self.app.push_screen, SecretScreen(prompt), closed)
        answered.wait()
        return result[0]

    def copy(self, text: str) -> None:
        """/copy (and Ctrl-Y): put ``text`` on the terminal's clipboard."""
        self.on_ui(self.app.copy_to_clipboard, text)

    def on_ui(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function`` on the UI thread: wait for it from a worker, queue it from the UI thread."""
        if threading.get_ident() == self.main_thread:
            self.app.call_later(function, *args)
            return
        try:
            self.app.call_from_thread(function, *args)
        except Exception:
            if self.app.is_running:
                raise
            # The app quit while this command's work ran on (quitting never waits for it): no screen is left.
