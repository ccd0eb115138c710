"""The plain REPL (``parrot --plain``): a prompt_toolkit line editor for terminals where a full-screen
app is unwelcome or impossible (TERM=dumb).

History file and slash-command completion come from prompt_toolkit; a multi-line prompt goes between
two lines that hold only ``\"\"\"``. The reply streams in a thread while the main thread waits, so that
Ctrl-C (a KeyboardInterrupt in the main thread) can set the reply's cancel Event; Ctrl-D exits.
"""

from __future__ import annotations

import base64
import sys
import threading
from typing import Any, Iterable, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.history import FileHistory
from rich.console import Console

from backends.errors import ParrotError
from backends.settings import GenerationSettings

from . import commands
from .commands.table import Context
from .history import HistoryStore, prompt_history_path
from .replies import describe_end, stream_reply
from .session import Session

BLOCK = '"""'


class CommandCompleter(Completer):
    """Completes slash-commands and their fixed first arguments from the one command table."""

    def get_completions(self, document: Any, complete_event: Any) -> Iterable[Completion]:
        text = document.text_before_cursor
        if "\n" in text:
            return
        for candidate in commands.completions(text):
            name = candidate[1:].split(" ")[0]
            meta = commands.COMMANDS[name].summary if name in commands.COMMANDS and " " not in candidate else ""
            yield Completion(candidate, start_position=-len(text), display_meta=meta)


class PlainRepl:
    """One plain REPL over one Session; also the UI that commands talk to."""

    def __init__(self, session: Session, store: HistoryStore | None, *, input: Any = None, output: Any = None,
                 out: TextIO | None = None) -> None:
        self.session = session
        self.store = store
        self.out = out or sys.stdout
        self.console = Console(file=self.out, highlight=False, soft_wrap=True)
        self.prompts = PromptSession(history=FileHistory(str(prompt_history_path())), completer=CommandCompleter(),
                                     complete_while_typing=True, input=input, output=output)
        extras: dict[str, Any] = {"history": store}
        if getattr(self.out, "isatty", lambda: False)():
            extras["clipboard"] = self._copy_osc52
        self.context = Context(session, self, extras)
        self.done = False

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        self.console.print("[dim]parrot · /help lists commands · \"\"\" starts and ends a multi-line prompt · "
                           "Ctrl-C stops a reply · Ctrl-D quits[/dim]")
        while not self.done:
            try:
                entry = self.read_entry()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt drops the line, as in a shell
            except EOFError:
                break
            if entry.strip():
                try:
                    self.handle(entry)
                except KeyboardInterrupt:  # a Ctrl-C that landed between two steps of a reply
                    self.out.write("\n")
        return 0

    def read_entry(self) -> str:
        line = self.prompts.prompt("> ")
        if line.strip() != BLOCK:
            return line
        lines: list[str] = []
        while (line := self.prompts.prompt("… ")).strip() != BLOCK:
            lines.append(line)
        return "\n".join(lines)

    def handle(self, entry: str) -> None:
        try:
            if commands.is_command(entry.strip()):
                commands.run(entry.strip(), self.context)
            else:
                self.reply(entry[1:] if entry.startswith("//") else entry)
        except ParrotError as error:
            self.console.print(f"[red]error:[/red] {error}", markup=True, highlight=False)

    def reply(self, prompt: str | None) -> None:
        """Stream a reply in a thread; Ctrl-C here stops it and keeps what was written."""
        cancel, finished = threading.Event(), threading.Event()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["turn"], _ = stream_reply(self.session, prompt, cancel, self._write, self.store)
            except ParrotError as error:
                outcome["error"] = error
            finally:
                finished.set()

        thread = threading.Thread(target=work, name="parrot-reply", daemon=True)
        thread.start()
        # Wait on an Event, not Thread.join: a KeyboardInterrupt inside join() can leave the thread
        # looking finished while it still runs (CPython issue 90882).
        while not finished.is_set():
            try:
                finished.wait(0.1)
            except KeyboardInterrupt:
                cancel.set()
        self.out.write("\n")
        if "error" in outcome:
            raise outcome["error"]
        self.console.print(f"[dim]{describe_end(outcome['turn'])}[/dim]")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _copy_osc52(self, text: str) -> None:
        # The terminal's own clipboard escape: works over ssh, needs no X or Wayland tools.
        self.out.write(f"\x1b]52;c;{base64.b64encode(text.encode()).decode()}\a")
        self.out.flush()

    # -- the UI protocol for commands ------------------------------------------------------------

    def show(self, renderable: Any) -> None:
        self.console.print(renderable)

    def generate(self) -> None:
        self.reply(None)

    def quit(self) -> None:
        self.done = True

    def clear(self) -> None:
        self.console.clear()

    def read_secret(self, prompt: str) -> str | None:
        try:
            return self.prompts.prompt(f"{prompt} ", is_password=True) or None
        except (KeyboardInterrupt, EOFError):
            return None


def run_plain(backend_name: str, model: str | None, settings: GenerationSettings, options: dict[str, Any],
              *, resume: bool = False, input: Any = None, output: Any = None, out: TextIO | None = None) -> int:
    """Run the plain REPL until Ctrl-D or /quit."""
    def progress(message: str) -> None:
        print(f"parrot: {message}", file=sys.stderr, flush=True)

    session = Session(backend_name, model, settings, progress=progress, **options)
    store = HistoryStore()
    store.attach(session)
    repl = PlainRepl(session, store, input=input, output=output, out=out)
    if resume:
        last = store.last_id()
        if last is None:
            repl.console.print("[dim]no conversation to continue yet; starting a new one[/dim]")
        else:
            session.conversation = store.load(last)
            repl.console.print(f"[dim]continuing conversation {last}: {len(session.conversation.turns)} "
                               "messages (/history lists others)[/dim]")
    try:
        return repl.run()
    finally:
        store.close()
