"""``parrot --script FILE`` (or ``-`` for stdin): run REPL lines as if they were typed.

Each line is a slash-command or a prompt; a multi-line prompt goes between two lines that hold only
``\"\"\"``; blank lines and lines starting with ``#`` are skipped. Answers and command output go to
stdout, errors to stderr. The first error stops the script with exit code 1 (backend or model) or 2
(usage) unless ``--keep-going``, which runs on and exits with the first error's code at the end.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Iterator, TextIO

from rich.console import Console
from rich.text import Text

from backends.errors import ParrotError, UsageError
from backends.settings import GenerationSettings

from .. import commands, safe_files
from ..chat.replies import end_note, stream_reply
from ..chat.session import Session
from ..chat.setup import Resume, open_session, resume_last
from ..cli.exits import EXIT_USAGE, exit_code
from ..commands.context import Background, Context
from ..crash import unexpected
from ..views import library_bars
from ..views.terminal_text import for_stream, neutral, same_terminal
from .interrupt import run_interruptible

BLOCK = '"""'
SCRIPT_LIMIT = 16 * safe_files.MB
LINE_LIMIT = safe_files.MB


class Block(str):
    """The text of a \"\"\" block: always a prompt."""


def read_entries(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, entry) for each command or prompt; a \"\"\" block becomes one multi-line prompt
    (a Block: never run as a command, even when it starts with '/')."""
    block: list[str] | None = None
    start = 0
    number = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if block is not None:
            if line.strip() == BLOCK:
                yield start, Block("\n".join(block))
                block = None
            else:
                block.append(line)
        elif line.strip() == BLOCK:
            block, start = [], number
        elif line.strip() and not line.lstrip().startswith("#"):
            yield number, line
    if block is not None:
        raise UsageError(f"line {start}: the {BLOCK} block is never closed", f"end it with a line holding only {BLOCK}")


class ScriptRunner:
    """Runs entries one by one; also the UI commands talk to."""

    def __init__(self, session: Session, out: TextIO, err: TextIO) -> None:
        self.session = session
        self.out, self.err = out, err
        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.context = Context(session, self, background=Background(errors=[]))
        self.done = False

    def run(self, lines: Iterable[str], keep_going: bool = False) -> int:
        first_error = 0
        entries = read_entries(lines)
        while not self.done:
            try:
                number, entry = next(entries)
            except StopIteration:
                break
            except UsageError as error:
                print(f"parrot: {error}", file=self.err)
                return first_error or EXIT_USAGE
            code = self.run_entry(number, entry)
            if code:
                first_error = first_error or code
                if not keep_going:
                    return code
        return self.finish_background() or first_error

    def finish_background(self) -> int:
        """Wait for work a command left running (a tokenizer training); report how it failed, if it did."""
        self.context.background.wait()
        code = 0
        for error in self.context.background.errors or []:
            print(f"parrot: {neutral(str(error))}", file=self.err)
            code = code or exit_code(error)
        return code

    def run_entry(self, number: int, entry: str) -> int:
        is_command = not isinstance(entry, Block) and commands.is_command(entry.strip())
        try:
            if is_command:
                commands.run(entry.strip(), self.context)
            else:
                self.reply(entry[1:] if not isinstance(entry, Block) and entry.startswith("//") else str(entry))
        except ParrotError as error:
            print(f"parrot: line {number}: {neutral(str(error))}", file=self.err)
            return exit_code(error)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001  one line and a log entry, never a traceback
            failure = unexpected(error, entry.split()[0] if is_command else "the reply")
            print(f"parrot: line {number}: {failure}", file=self.err)
            return exit_code(failure)
        return 0

    def reply(self, prompt: str | None, branch: tuple[int, int] | None = None) -> None:
        written = [""]  # the last text written: an error after a partial answer starts a line of its own

        def write(text: str) -> None:
            self.out.write(for_stream(self.out, text))
            self.out.flush()
            written[0] = text

        # In a thread, so that Ctrl-C or SIGTERM stops the reply and keeps what arrived; then parrot exits.
        def note(text: str) -> None:  # stderr: a cut prompt before the reply's first word, an ignored setting after
            if written[0] and not written[0].endswith("\n") and same_terminal(self.out, self.err):
                write("\n")  # on one screen, a note never runs on from the answer's last line
            print(f"parrot: {neutral(text)}", file=self.err, flush=True)

        try:
            (turn, reply), interrupted = run_interruptible(
                lambda cancel: stream_reply(self.session, prompt, cancel, write, note, branch=branch))
        except BaseException:
            if written[0] and not written[0].endswith("\n"):
                self.out.write("\n")
                self.out.flush()
            raise
        if not written[0].endswith("\n"):
            self.out.write("\n")
        self.out.flush()
        if ended := end_note(turn.stats, turn.settings, in_chat=True):  # stdout holds the answers alone
            note(ended)
        if interrupted is not None:
            raise interrupted

    # -- the UI protocol -------------------------------------------------------------------------

    def show(self, renderable: Any) -> None:
        # A string is plain text, never markup; control characters are shown, not sent, on a terminal.
        self.console.print(Text(for_stream(self.out, renderable)) if isinstance(renderable, str) else renderable)

    def generate(self, branch: tuple[int, int] | None = None) -> None:
        self.reply(None, branch)

    def progress(self, text: str | None) -> None:
        pass  # a script's output is read later: only results and errors belong there

    def quit(self) -> None:
        self.done = True

    def clear(self) -> None:
        pass  # nothing on a screen to clear

    def read_secret(self, prompt: str) -> str | None:
        return None  # a script cannot be asked; the command reports that nothing was given


def run_script(source: str, backend_name: str, model: str | None, settings: GenerationSettings,
               options: dict[str, Any], *, keep_going: bool = False, resume: Resume | bool = False,
               quiet: bool = False) -> int:
    """Run the script at ``source`` (a path, or ``-`` for stdin); return the exit code."""
    def warn(message: str) -> None:
        print(f"parrot: {message}", file=sys.stderr, flush=True)

    if source == "-":  # read as lines arrive: a program may feed the script one line at a time
        lines: Iterable[str] = safe_files.read_lines(sys.stdin.buffer, "stdin", LINE_LIMIT, warn)
    else:
        lines = safe_files.read_text(source, "script", SCRIPT_LIMIT, warn).splitlines()

    if quiet or not sys.stderr.isatty():
        library_bars.keep_off()  # no progress bars in a log file

    def progress(message: str) -> None:
        if not quiet and sys.stderr.isatty():
            print(f"parrot: {message}", file=sys.stderr, flush=True)

    setup = open_session(backend_name, model, settings, options, progress=progress, note=None if quiet else warn)
    session, store = setup.session, setup.store
    for notice in setup.notices:
        warn(notice)
    if resume:
        resumed = resume_last(setup, resume)
        if not quiet:  # on stderr: stdout is the answers alone
            warn(neutral(f"continuing conversation {resumed.conversation.id}: {resumed.restored}") if resumed
                 else "no conversation to continue yet; starting a new one")
    try:
        return ScriptRunner(session, sys.stdout, sys.stderr).run(lines, keep_going)
    finally:
        store.close()
