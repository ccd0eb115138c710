"""Slash-commands in the app: each runs in a thread, and reaches the screen through the command UI protocol.

A command may block (a secret prompt, a model switch, a download) without freezing the window. It
talks to the screen only through the methods below (show, generate, quit, clear, edit, read_secret,
after_load, progress), which the plain REPL and scripts implement too; each hops to the UI thread. When the
command is over the app hears ``CommandBridge.Done`` and brings the log and the status bar in line.

Lines run in the order they were sent, one at a time: a burst (several lines in one terminal write, a
paste of commands) waits in a queue, and a prompt behind a command goes out once the command is over.
A command that fails stays in the log as a line, and comes back to the input to be fixed.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

from rich.text import Text
from textual.app import App
from textual.message import Message

from backends.errors import BackendError, ParrotError

from .. import commands
from ..chat.activity import Activity
from ..chat.session import Session
from ..commands.context import Context
from ..crash import unexpected
from ..modes.clipboard import copy_text
from .widgets import SecretScreen


class CommandBridge:
    """The command UI protocol for ``app``, and the worker that runs one command line."""

    wide = True  # commands may show columns here (/compare side by side) where other modes stack text
    pick_keys = ", or press K now (the chat log has the keys; anything else goes back to the input)"

    class Done(Message):
        """A command has finished (or failed); what it changed may now be shown."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    def __init__(self, app: App, session: Session, activity: Activity,
                 on_finetune_started: Callable[[Any], None] | None = None) -> None:
        self.app = app
        self.main_thread = threading.get_ident()
        self.context = Context(session, self, activity, clipboard=self.copy, on_finetune_started=on_finetune_started)
        self._queue: deque[str] = deque()  # lines sent and not yet started (touched on the UI thread only)
        self._busy = False  # a command is running, or a prompt from the queue is being sent

    @property
    def chat(self) -> Any:
        return self.app.chat  # type: ignore[attr-defined]

    @property
    def waiting(self) -> int:
        """Lines sent that wait for the one before them."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Nothing running and nothing waiting."""
        return not self._busy and not self._queue

    def run(self, line: str) -> None:
        """Run ``line`` (a command, or a prompt) after the lines sent before it; from the UI thread."""
        self._queue.append(line)
        self.next()

    def next(self) -> None:
        """Start the next line that waits, unless a command or a reply is still going."""
        if self._queue and not self._busy and not self.app.replying:  # type: ignore[attr-defined]
            line = self._queue.popleft()
            self._busy = True
            if commands.is_command(line.strip()):
                self.app.run_worker(lambda: self._run(line.strip()), thread=True, exit_on_error=False,
                                    group="command")
            else:
                self.app.call_later(self._send, line)
        self.app.status.waiting = len(self._queue)  # type: ignore[attr-defined]

    async def _send(self, text: str) -> None:
        try:
            await self.app.send_prompt(text)  # type: ignore[attr-defined]
        finally:
            self.finished()  # a line behind it waits for the reply's end (``next`` checks)

    def drop_waiting(self) -> list[str]:
        """Forget the lines that wait (Esc stops them with what runs); returns them."""
        dropped = list(self._queue)
        self._queue.clear()
        self.next()
        return dropped

    def finished(self) -> None:
        """The line that ran is over and the screen shows what it changed: the next one may start."""
        self._busy = False
        self.next()

    def _run(self, line: str) -> None:
        try:
            commands.run(line, self.context)
        except ParrotError as error:
            self.app.call_from_thread(self._show_error, error, line)
        except Exception as error:  # noqa: BLE001  a broken command must not take the chat down
            self.app.call_from_thread(self._show_error, unexpected(error, line.split()[0]), line)
        self.app.post_message(self.Done(line))  # the app shows what it changed, then calls ``finished``

    async def _show_error(self, error: ParrotError, line: str) -> None:
        # Said at once (a notification), kept in the log as a line (the notification fades), and the command
        # back in the input to be fixed, unless something is being typed there already.
        self.app.notify(str(error), title=line.split()[0], severity="error", timeout=8)
        await self.chat.show_note(Text.assemble((line, "bold"), "  ", (str(error), "red")))
        self.chat.scroll_end(animate=False)
        prompt = self.app.query_one("#prompt")
        if not prompt.text.strip():  # type: ignore[attr-defined]
            self.app.put_back(line)  # type: ignore[attr-defined]

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

    def copy(self, text: str) -> str:
        """/copy (and Ctrl-Y): ``text`` to a clipboard tool, tmux's buffer and the terminal; says which took it."""
        return copy_text(text, lambda sent: self.on_ui(self.app.copy_to_clipboard, sent))

    def on_ui(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function`` on the UI thread: wait for it from a worker, queue it from the UI thread."""
        if threading.get_ident() == self.main_thread:
            self.app.call_later(function, *args)
        else:
            self.app.call_from_thread(function, *args)
