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
from rich.console import Console
from rich.text import Text

from backends import paths
from backends.errors import Cancelled, ParrotError
from backends.settings import GenerationSettings

from .. import commands
from ..chat.attachments import path_completions, summary, word_to_complete
from ..chat.replies import describe_end, stream_reply
from ..chat.session import Session
from ..chat.setup import Resume, open_session, resume_last
from ..commands.context import Context
from ..crash import unexpected
from ..history.store_open import prompt_history
from ..views.terminal_text import neutral
from ..views.wait_line import WaitLine, download_bar, waiting_for
from .clipboard import copy_text
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


class PlainRepl:
    """One plain REPL over one Session; also the UI that commands talk to."""

    def __init__(self, session: Session, *, input: Any = None, output: Any = None,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.session = session
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.console = Console(file=self.out, highlight=False, soft_wrap=True)
        history, self.history_notice = prompt_history(paths.prompt_history_file)
        self.prompts = PromptSession(history=history, completer=CommandCompleter(),
                                     complete_while_typing=True, input=input, output=output)
        self._input, self._output = input, output
        on_terminal = getattr(self.out, "isatty", lambda: False)()
        self.context = Context(session, self, clipboard=lambda text: copy_text(
            text, self._copy_osc52 if on_terminal else None))
        self.done = False
        self.draft = ""  # text the next prompt starts with (/edit)
        self.wait = WaitLine(self.err, enabled=False)  # what a reply waits for, while it waits

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
        line = self.prompts.prompt("> ", default=draft)
        if line.strip() != BLOCK:
            return line, False
        lines: list[str] = []
        while (line := self.prompts.prompt("… ")).strip() != BLOCK:
            lines.append(line)
        return "\n".join(lines), True

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
        line.append(neutral(str(error)))
        self.console.print(line, highlight=False)

    def reply(self, prompt: str | None, branch: tuple[int, int] | None = None) -> None:
        """Stream a reply in a thread; Ctrl-C here stops it and keeps what was written."""
        # Until the first word, stderr says what the reply waits for (the model loading, the prompt read).
        self.wait = WaitLine(self.err)
        self.wait.show(waiting_for(self.session.backend))

        def write(text: str) -> None:
            self.wait.clear()  # the answer begins (the line is gone before it, on the same screen)
            self._write(text)

        def started(reply: Any) -> None:
            count = reply.stats.prompt_tokens
            self.wait.show(f"reading the prompt ({count:,} tokens)" if count else "waiting for the first token")

        try:
            (turn, reply), _ = run_interruptible(
                lambda cancel: stream_reply(self.session, prompt, cancel, write, self._note, started, branch=branch))
        finally:
            self.wait.clear()
            self.wait = WaitLine(self.err, enabled=False)  # loading outside a reply is told in lines
            self.out.write("\n")
        self.console.print(Text(neutral(describe_end(turn)), style="dim"))

    def loading(self, message: str) -> None:
        """What loading a model is doing (the session's progress): in the waiting line while a reply waits."""
        counted = getattr(message, "fraction", None) is not None  # a download or a conversion, as a bar
        if counted:
            self.wait.show(download_bar(message))
        else:  # reading a model: the library's own bar may draw on this line, so no ticking
            self.wait.show(message, tick=False)
        finished = not counted or message.done >= message.total
        if not self.wait.enabled and finished:  # a log: each step as a line of its own, a download once
            print(f"parrot: {neutral(message)}", file=self.err, flush=True)

    def _note(self, text: str) -> None:
        # On stderr, in the reply's thread: a cut prompt is told before the reply's first word.
        self.wait.note(f"parrot: {neutral(text)}")

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
        self.console.print(Text(neutral(renderable)) if isinstance(renderable, str) else renderable)

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
              *, resume: Resume | bool = False, input: Any = None, output: Any = None, out: TextIO | None = None,
              first: tuple[str, list] | None = None) -> int:
    """Run the plain REPL until Ctrl-D or /quit."""
    repl: PlainRepl | None = None

    def progress(message: str) -> None:  # read late: the REPL is made after the session it serves
        if repl is not None:
            repl.loading(message)
        else:
            print(f"parrot: {message}", file=sys.stderr, flush=True)

    def note(message: str) -> None:
        print(f"parrot: {message}", file=sys.stderr, flush=True)

    setup = open_session(backend_name, model, settings, options, progress=progress, note=note)
    session, store = setup.session, setup.store
    repl = PlainRepl(session, input=input, output=output, out=out)
    for notice in [*setup.notices, *filter(None, [repl.history_notice])]:
        repl.notice(f"parrot: {notice}")
    if resume:
        resumed = resume_last(setup, resume)
        if resumed is None:
            repl.console.print("[dim]no conversation to continue yet; starting a new one[/dim]")
        else:
            said = f"continuing conversation {resumed.conversation.id}: {len(resumed.conversation.turns)} " \
                   f"messages, {resumed.restored} (/history lists others)"
            repl.console.print(Text(neutral(said), style="dim"))
    if first is not None:  # --chat: the piped start is the conversation's first prompt
        session.pending_files = list(first[1])
        repl.console.print(Text(f"> {first[0]}  (with {summary(first[1])})" if first[1] else f"> {first[0]}"))
        repl.handle(first[0], block=True)
    try:
        return repl.run()
    finally:
        store.close()
