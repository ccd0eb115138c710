"""The plain REPL (``parrot --plain``): a prompt_toolkit line editor for terminals where a full-screen
app is unwelcome or impossible (TERM=dumb).

History file and slash-command completion come from prompt_toolkit; a multi-line prompt goes between
two lines that hold only ``\"\"\"``. The reply streams in a thread while the main thread waits, so that
Ctrl-C (a KeyboardInterrupt in the main thread) can set the reply's cancel Event; Ctrl-D exits.
"""

from __future__ import annotations

import base64
import sys
from typing import Any, Iterable, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.filters import emacs_insert_mode, vi_insert_mode
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.keys import Keys
from rich.console import Console
from rich.text import Text

from backends import paths
from backends.errors import Cancelled, ParrotError
from backends.settings import GenerationSettings

from .. import commands
from ..chat.attachments import path_completions, summary, word_to_complete
from ..chat.replies import describe_end, describe_prefill, stream_reply
from ..chat.session import Session
from ..chat.setup import open_session, resume_last
from ..commands.context import Context
from ..crash import unexpected
from ..history.store_open import prompt_history
from ..safe_files import readable
from ..views.terminal_text import error_line, neutral, shown
from .interrupt import run_interruptible

BLOCK = '"""'


class CommandCompleter(Completer):
    """Completes slash-commands and their fixed first arguments from the one command table, and
    paths after ``/file`` or an ``@``."""

    def get_completions(self, document: Any, complete_event: Any) -> Iterable[Completion]:
        text = document.text_before_cursor
        fragment = word_to_complete(text)
        if fragment is not None:
            for path in path_completions(fragment):
                yield Completion(path, start_position=-len(fragment))
            return
        if "\n" in text:
            return
        for candidate in commands.completions(text):
            name = candidate[1:].split(" ")[0]
            meta = commands.COMMANDS[name].summary if name in commands.COMMANDS and " " not in candidate else ""
            yield Completion(candidate, start_position=-len(text), display_meta=meta)


def typing_bindings() -> KeyBindings:
    """Typed text that arrives faster than a person types (a paste into a terminal without bracketed paste)
    goes into the line at once. Key by key, prompt_toolkit looks up the bindings and keeps an undo copy of
    the whole line for each character: a 130 KB line took minutes and gigabytes and was never accepted."""
    bindings = KeyBindings()

    @bindings.add(Keys.Any, filter=emacs_insert_mode | vi_insert_mode)
    def _insert(event: Any) -> None:
        pending = event.app.key_processor.input_queue
        text = [event.data * event.arg]
        while pending and len(pending[0].key) == 1 and pending[0].key.isprintable():  # characters, not keys
            text.append(pending.popleft().data)
        event.current_buffer.insert_text("".join(text))

    return bindings


class PlainRepl:
    """One plain REPL over one Session; also the UI that commands talk to."""

    def __init__(self, session: Session, *, input: Any = None, output: Any = None,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.session = session
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.console = Console(file=self.out, highlight=False, soft_wrap=True)
        history, self.history_notice = prompt_history(paths.prompt_history_file)
        self.prompts = PromptSession(history=history, completer=CommandCompleter(), key_bindings=typing_bindings(),
                                     complete_while_typing=True, input=input, output=output)
        self.prompts.app.min_redraw_interval = 0.05  # a long paste redraws 20 times a second, not once per read
        self._input, self._output = input, output
        on_terminal = getattr(self.out, "isatty", lambda: False)()
        self.context = Context(session, self, clipboard=self._copy_osc52 if on_terminal else None)
        self.done = False
        self.draft = ""  # text the next prompt starts with (/edit)

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        self.console.print("[dim]parrot · /help lists commands · \"\"\" starts and ends a multi-line prompt · "
                           "Ctrl-C stops a reply · Ctrl-D quits[/dim]")
        while not self.done:
            try:
                entry, block = self.read_entry()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt drops the line, as in a shell
            except EOFError:
                break
            if entry.strip():
                try:
                    self.handle(entry, block)
                except KeyboardInterrupt:  # a Ctrl-C that landed between two steps of a reply
                    self.out.write("\n")
        return 0

    def read_entry(self) -> tuple[str, bool]:
        """One line, or a \"\"\" block (always a prompt, even when it starts with '/'); and whether it was a block."""
        draft, self.draft = self.draft, ""
        line = self._read("> ", draft)
        if line.strip() != BLOCK:
            return line, False
        lines: list[str] = []
        while (line := self._read("… ")).strip() != BLOCK:
            lines.append(line)
        return "\n".join(lines), True

    def _read(self, prompt: str, default: str = "") -> str:
        line = self.prompts.prompt(prompt, default=default)
        text = readable(line)  # a terminal that sent bytes that are not UTF-8 (a Latin-1 one)
        if text != line:
            self.notice("parrot: the terminal sent bytes that are not UTF-8; they were replaced with U+FFFD")
        return text

    def handle(self, entry: str, block: bool = False) -> None:
        try:
            if not block and commands.is_command(entry.strip()):
                commands.run(entry.strip(), self.context)
            else:
                self.reply(entry[1:] if not block and entry.startswith("//") else entry)
        except Cancelled as error:  # stopped before any text: nothing was kept
            self.console.print(Text(str(error), style="dim"), highlight=False)
        except ParrotError as error:
            self.error(error)
        except Exception as error:  # noqa: BLE001  a bug in one command must not end the session
            self.error(unexpected(error, entry.split()[0] if not block and commands.is_command(entry.strip())
                                  else "the reply"))

    def error(self, error: ParrotError) -> None:
        line = Text("error: ", style="red")
        line.append(error_line(str(error)))
        self.console.print(line, highlight=False)

    def reply(self, prompt: str | None, branch: tuple[int, int] | None = None) -> None:
        """Stream a reply in a thread; Ctrl-C here stops it and keeps what was written."""
        try:
            (turn, reply), _ = run_interruptible(
                lambda cancel: stream_reply(self.session, prompt, cancel, self._write, self._note, branch=branch,
                                            on_prefill=self._prefilled))
        finally:
            self.out.write("\n")
        self.console.print(Text(neutral(describe_end(turn)), style="dim"))

    def _note(self, text: str) -> None:
        # On stderr, in the reply's thread: a cut prompt is told before the reply's first word.
        print(f"parrot: {neutral(text)}", file=self.err, flush=True)

    def _prefilled(self, progress: Any) -> None:
        # In place on stderr while a long prompt is read; gone once the model has read it all.
        self.progress(f"{describe_prefill(progress)} (Ctrl-C stops)" if progress.done < progress.total else None)

    def _write(self, text: str) -> None:
        self.out.write(neutral(text))  # model output too may hold escape sequences
        self.out.flush()

    def _copy_osc52(self, text: str) -> None:
        # The terminal's own clipboard escape: works over ssh, needs no X or Wayland tools.
        self.out.write(f"\x1b]52;c;{base64.b64encode(text.encode()).decode()}\a")
        self.out.flush()

    # -- the UI protocol for commands ------------------------------------------------------------

    def show(self, renderable: Any) -> None:
        # A string is plain text, never markup: it may hold '[', or text the model or a file wrote.
        self.console.print(shown(renderable))

    def notice(self, text: str) -> None:
        self.console.print(Text(neutral(text), style="yellow"))

    def generate(self, branch: tuple[int, int] | None = None) -> None:
        self.reply(None, branch)

    def progress(self, text: str | None) -> None:
        # One line redrawn in place on a terminal's stderr; nothing in a log, where it would be noise.
        if getattr(self.err, "isatty", lambda: False)():
            self.err.write("\r\x1b[2K" + (neutral(text) if text else ""))
            self.err.flush()

    def quit(self) -> None:
        self.done = True

    def clear(self) -> None:
        self.console.clear()

    def edit(self, text: str) -> None:
        """/edit: the next prompt line starts with this text, to be changed and sent."""
        self.draft = text

    def read_secret(self, prompt: str) -> str | None:
        # A session of its own: is_password set on the main one would stay on for every later prompt.
        secrets = PromptSession(is_password=True, input=self._input, output=self._output)
        try:
            return secrets.prompt(f"{prompt} ") or None
        except (KeyboardInterrupt, EOFError):
            return None


def run_plain(backend_name: str, model: str | None, settings: GenerationSettings, options: dict[str, Any],
              *, resume: bool = False, input: Any = None, output: Any = None, out: TextIO | None = None,
              first: tuple[str, list] | None = None) -> int:
    """Run the plain REPL until Ctrl-D or /quit."""
    def progress(message: str) -> None:
        print(f"parrot: {message}", file=sys.stderr, flush=True)

    setup = open_session(backend_name, model, settings, options, progress=progress, note=progress)
    session, store = setup.session, setup.store
    repl = PlainRepl(session, input=input, output=output, out=out)
    for notice in [*setup.notices, *filter(None, [repl.history_notice])]:
        repl.notice(f"parrot: {notice}")
    if resume:
        resumed = resume_last(setup)
        if resumed is None:
            repl.console.print("[dim]no conversation to continue yet; starting a new one[/dim]")
        else:
            repl.console.print(f"[dim]continuing conversation {resumed.id}: {len(resumed.turns)} "
                               "messages (/history lists others)[/dim]")
    if first is not None:  # --chat: the piped start is the conversation's first prompt
        session.pending_files = list(first[1])
        repl.console.print(Text(f"> {first[0]}  (with {summary(first[1])})" if first[1] else f"> {first[0]}"))
        repl.handle(first[0], block=True)
    try:
        return repl.run()
    finally:
        store.close()
