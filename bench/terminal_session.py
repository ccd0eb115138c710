"""parrot in a pseudo-terminal for bench/app_reply.py: the plain REPL or the full-screen app, driven
with the bytes a terminal sends, timed by what comes back on the terminal.

Both print the line under a finished reply as ``<model> · N tokens · X tok/s`` (the app also shows
``N tokens so far`` while it streams, which the pattern below does not match).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
FOOTER = re.compile(r"(\d+) tokens · ([\d.]+) tok/s")
ENDED = re.compile(FOOTER.pattern + r"[^\r\n\x1b]*")  # the line under the reply, with how it ended
STOPPED = "cut off: cancelled"
NOTHING = "cancelled before any text"  # stopped before the first token: nothing to time
ECHO = "§"  # typed while a reply streams; no model writes it in these replies
ESC_KEYS = {"csi-u": "\x1b[27u",  # Esc as terminals with the kitty keyboard protocol send it (Textual asks)
            "bare": "\x1b"}  # a lone ESC byte: Textual waits ESCDELAY (100 ms) for the rest of a sequence


class TerminalParrot:
    """One parrot process on a pseudo-terminal of ``size`` (columns, rows)."""

    def __init__(self, model: str, tokens: int, plain: bool, size: tuple[int, int] = (120, 40)) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "TQDM_DISABLE": "1", "PYTHONPATH": str(ROOT)}
        args = ["-m", "repl", "-m", model, "--device", "cpu", "--greedy", "-n", str(tokens)]
        self.plain, self.tokens = plain, tokens
        self.child = pexpect.spawn(sys.executable, args + (["--plain"] if plain else []), cwd=str(ROOT), env=env,
                                   dimensions=(size[1], size[0]), encoding="utf-8", timeout=300)
        self.child.delaybeforesend = None  # pexpect waits 50 ms before each send by default: not a terminal's
        if plain:
            self.child.expect("Ctrl-D quits")  # the greeting; the prompt follows
            self._settle()
        else:
            self.child.expect("Enter sends")  # the first paint
            self.child.expect("chat")  # the status line, once the model has loaded
        self.reply("hi")  # the plain REPL loads its model on the first prompt; both warm up

    def _settle(self, seconds: float = 0.3) -> None:
        """Read whatever the terminal still has to show, until it has been quiet ``seconds``."""
        while True:
            try:
                self.child.read_nonblocking(100_000, timeout=seconds)
            except pexpect.TIMEOUT:
                return

    def _send_prompt(self, prompt: str) -> float:
        self.child.send("/new\r")
        self.child.expect("new conversation")
        self._settle()
        started = time.perf_counter()
        self.child.send(prompt + "\r")
        return started

    def reply(self, prompt: str) -> tuple[float, float, None]:
        """Ask in a new conversation; the reply's own tok/s, and seconds from Enter to its last line shown
        (the UI's own cost is not seen from outside)."""
        started = self._send_prompt(prompt)
        self.child.expect(FOOTER)
        seen = time.perf_counter() - started
        speed = float(self.child.match.group(2))
        self._settle()
        return speed, seen, None

    def echo_and_stop(self, prompt: str, esc: str, after: float, tokens: int) -> tuple[float | None, float | None]:
        """While a reply of up to ``tokens`` streams: seconds until a typed key shows (the app only), then
        until Esc (Ctrl-C in --plain) has stopped the reply and the screen says so; None if it had ended."""
        self._max(tokens)
        self._send_prompt(prompt)
        if self.plain:  # the prompt line is done (bracketed paste off again), then the reply's first word
            shown = self._read_until([re.escape("\x1b[?2004l")]) + self._read_until([r"\w", FOOTER])
        else:
            shown = self._read_until(["tokens so far", FOOTER])
        time.sleep(after)
        echo = None
        if not self.plain:
            started = time.perf_counter()
            self.child.send(ECHO)
            shown += self._read_until([ECHO])
            echo = time.perf_counter() - started
            self.child.send("\x7f")  # take it back out of the input
        stop = None
        if not FOOTER.search(shown):  # still streaming, as far as the screen has said
            started = time.perf_counter()
            self.child.send(ESC_KEYS[esc] if not self.plain else "\x03")
            if self.child.expect([ENDED, NOTHING]) == 0 and STOPPED in self.child.after:
                stop = time.perf_counter() - started
        self._settle()
        self._max(self.tokens)
        return echo, stop

    def _read_until(self, patterns: list) -> str:
        """Wait for one of ``patterns``; returns everything the terminal showed until then."""
        self.child.expect(patterns)
        return self.child.before + self.child.after

    def _max(self, tokens: int) -> None:
        self.child.send(f"/max {tokens}\r")
        self.child.expect("max_new_tokens")
        self._settle()

    def close(self) -> None:
        self.child.send("/quit\r")
        try:
            self.child.expect(pexpect.EOF, timeout=30)
        finally:
            self.child.close(force=True)
