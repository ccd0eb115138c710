"""Run one hostile case in each mode parrot has, the way a person would meet it, and read the result.

- ``app``: the Textual app through ``App.run_test()`` and Pilot, built from the same arguments and
  config as ``parrot`` builds it; the lines are typed and sent with Enter.
- ``plain``: ``parrot --plain`` in this process (``repl.cli.main``), its prompts fed through
  prompt_toolkit's pipe input.
- ``script``: ``parrot --script -`` in a subprocess, the lines on its stdin.
- ``oneshot``: ``parrot -p LINE`` (or piped stdin) in a subprocess.

Every mode returns an Outcome: the exit code (the app's: None while it still runs after the lines),
the messages it showed (stderr lines, plain's error and notice lines, the app's notifications) and
what went to stdout or the screen. ``assert_one_line`` checks the shape every refusal must have.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[2]

from tests.support.helpers import run_parrot

MODES = ("app", "plain", "script", "oneshot")
SIZE = (120, 40)
CTRL_D = "\x04"


@dataclass
class Outcome:
    mode: str
    code: int | None
    messages: list[str]
    out: str
    running: bool = False  # the app: still up after the lines
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.messages) + "\n" + self.out


def assert_one_line(outcome: Outcome, *needles: str, code: int | None = None) -> str:
    """One message holds every needle (case-insensitive); no traceback or Python repr anywhere; the code."""
    everything = outcome.text
    assert "Traceback" not in everything, f"{outcome.mode}: a traceback was shown:\n{everything}"
    assert "Error: [Errno" not in everything and "<class '" not in everything, everything
    hits = [m for m in outcome.messages if all(n.lower() in m.lower() for n in needles)]
    assert hits, f"{outcome.mode}: no message says {needles!r}; shown:\n{everything}"
    assert "\n" not in hits[0].strip(), f"{outcome.mode}: the message is not one line: {hits[0]!r}"
    if code is not None:
        assert outcome.code == code, f"{outcome.mode}: exit code {outcome.code}, expected {code}:\n{everything}"
    return hits[0]


# -- the modes -----------------------------------------------------------------------------------

def run_mode(mode: str, lines: Iterable[str], args: Iterable[str] = (), *, stdin: bytes | None = None,
             timeout: float = 240) -> Outcome:
    """Run ``lines`` (commands and prompts) with parrot ``args`` in ``mode``."""
    lines, args = list(lines), list(args)
    if mode == "app":
        return asyncio.run(_app(lines, args, timeout))
    if mode == "plain":
        return _plain(lines, args)
    if mode == "script":
        data = stdin if stdin is not None else "".join(f"{line}\n" for line in lines).encode()
        return _subprocess(mode, ["--script", "-", *args], data, timeout)
    if mode == "oneshot":
        if lines and len(lines[0]) > 100_000 and stdin is None:  # past the kernel's limit for one argument: piped
            return _subprocess(mode, args, lines[0].encode(), timeout)
        prompt = ["-p", lines[0]] if lines else []
        return _subprocess(mode, [*args, *prompt], stdin if stdin is not None else b"", timeout)
    raise ValueError(mode)


def _subprocess(mode: str, argv: list[str], stdin: bytes, timeout: float) -> Outcome:
    result = run_parrot(argv, stdin=stdin, timeout=timeout)
    err = result.stderr.decode("utf-8", "replace")
    messages = [line for line in err.splitlines() if line.strip() and not _progress_noise(line)]
    return Outcome(mode, result.returncode, messages, result.stdout.decode("utf-8", "replace"))


def _progress_noise(line: str) -> bool:
    return "Loading weights" in line or "it/s]" in line


class _Terminal(io.StringIO):
    """stdin that says it is a terminal, so ``parrot --plain`` runs as it does for a person."""

    def isatty(self) -> bool:
        return True


def _plain(lines: list[str], args: list[str]) -> Outcome:
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from repl.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("".join(f"{line}\r" for line in lines) + CTRL_D)
        sys.stdin = _Terminal()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(["--plain", *args])
        finally:
            sys.stdin = saved_stdin
    shown = out.getvalue()
    messages = [line for line in err.getvalue().splitlines() if line.strip() and not _progress_noise(line)]
    messages += [line for line in shown.splitlines() if line.startswith(("error:", "parrot:"))]
    return Outcome("plain", code, messages, shown)


async def _app(lines: list[str], args: list[str], timeout: float) -> Outcome:
    from repl.app.chat_app import ChatApp
    from repl.cli import main as cli
    from tests.support.app_helpers import screen_text, type_text, wait_until

    err = io.StringIO()
    made: list[ChatApp] = []

    def build() -> int:
        backend, model, settings, options = cli.chat_setup(cli.build_parser().parse_args(args))
        made.append(ChatApp(backend, model, settings, options, resume="--continue" in args or "-c" in args))
        return 0

    with contextlib.redirect_stderr(err):
        code = cli.guarded(build)
    if not made:  # refused before the window opened, as `parrot` itself would be
        return Outcome("app", code, [line for line in err.getvalue().splitlines() if line.strip()], "")
    app = made[0]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        from repl.app.prompt_input import PromptInput

        for line in lines:
            app.query_one(PromptInput).clear()  # a failed command comes back to the input: start afresh
            if len(line) > 200:  # pasted, as a person would: typing 200 KB key by key takes minutes
                app.query_one(PromptInput).text = line
            else:
                await type_text(pilot, line)
            await pilot.press("enter")
            await pilot.pause(0.1)
            await wait_until(pilot, lambda: not app.replying and not _commands_running(app), timeout)
        await pilot.pause(0.2)
        messages = [str(n.message) for n in app._notifications]
        screen = screen_text(app)
        running = app.is_running
        history = app.history
    history.close()
    return Outcome("app", app.return_code if not running else None, messages, screen, running=running)


def _commands_running(app: Any) -> bool:
    return any(not w.is_finished for w in app.workers if w.group in ("command", "reply"))


# -- the stored conversation -----------------------------------------------------------------------

def seed_conversation(texts: tuple[str, ...] = ("keep me", "kept")) -> int:
    """Store one conversation of user/assistant turns through the history store; returns its id."""
    from backends.base import Message
    from backends.reply import GenerationStats
    from repl.chat.session import Conversation, Turn
    from repl.history.store import HistoryStore

    store = HistoryStore()
    conversation = Conversation()
    for index, text in enumerate(texts):
        role = "user" if index % 2 == 0 else "assistant"
        turn = Turn(Message(role, text), GenerationStats(backend="test", model="m") if role == "assistant" else None)
        conversation.turns.append(turn)
        store.save_turn(conversation, turn)
    store.close()
    return conversation.id


def stored_turns(conversation_id: int | None = None) -> list[tuple[str, str]]:
    """(role, content) of a stored conversation (the last one by default), read straight from SQLite."""
    from backends.paths import history_file

    with contextlib.closing(sqlite3.connect(history_file())) as db:
        if conversation_id is None:
            row = db.execute("SELECT MAX(id) FROM conversations").fetchone()
            conversation_id = row[0]
        return db.execute("SELECT role, content FROM turns WHERE conversation_id = ? ORDER BY position",
                          (conversation_id,)).fetchall()


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
