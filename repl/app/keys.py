"""The app's keys, in one table: the app's bindings and the welcome line are made from it, and the README's
key table names each listed key (a test checks); and the actions those keys run (``KeyActions``, which the
app inherits).

Every key here arrives the same on every terminal, tmux included. Alt-digit does not: most terminals
send it as Esc then the digit, which Textual reads as a macOS Option character (``¡ ™ £ ¢ ∞``). So the
keys that branch after ``/probs N`` are plain digits, taken while the chat log has the focus (it takes
it after ``/probs N``); anything else typed there goes back to the input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding

PICKS = 5  # alternatives /probs N shows, each with its digit


@dataclass(frozen=True)
class Key:
    keys: str  # Textual's key names
    label: str  # as the person reads them
    does: str
    action: str | None = None  # the app's action; None where a widget handles the key itself
    priority: bool = False  # before the focused widget sees it
    welcome: bool = False  # named in the welcome line
    listed: bool = True  # a row of the README's key table (False: one of a group a listed row names)


def _page(direction: str) -> str:
    return ",".join(f"{modifier}page{direction}" for modifier in ("", "shift+", "ctrl+", "alt+"))


KEYS = (
    Key("enter", "Enter", "sends", welcome=True),
    Key("ctrl+j", "Ctrl-J", "new line", welcome=True),
    Key("up,down", "Up/Down", "history", welcome=True),
    # The log scrolls from the input: the input is where the focus stays. The input's own page keys only
    # move its cursor, and Shift/Ctrl/Alt-PageUp are what other terminal programs scroll with.
    Key(_page("up"), "PageUp/PageDown", "scroll", "scroll_log('page_up')", priority=True, welcome=True),
    Key(_page("down"), "PageDown", "scrolls the chat down", "scroll_log('page_down')", priority=True, listed=False),
    Key("ctrl+up", "Ctrl-Up/Ctrl-Down", "scroll the chat three lines", "scroll_log('up')", priority=True),
    Key("ctrl+down", "Ctrl-Down", "scrolls the chat down", "scroll_log('down')", priority=True, listed=False),
    Key("ctrl+home", "Ctrl-Home/Ctrl-End", "the top / the end of the chat", "scroll_log('home')", priority=True),
    Key("ctrl+end", "Ctrl-End", "the end of the chat", "scroll_log('end')", priority=True, listed=False),
    Key("tab", "Tab", "completes a command or path; with nothing to complete, moves to the chat log, where "
        "arrows, PageUp/PageDown and Home/End scroll and typing goes back to the input (so does Tab or Esc)"),
    Key("escape", "Esc", "cancels a reply", "cancel_reply", priority=True, welcome=True),
    Key("ctrl+c", "Ctrl-C", "cancels a reply, twice quits", "interrupt", priority=True),
    Key("ctrl+q", "Ctrl-Q", "quits", "quit", priority=True, welcome=True),
    # Priority: the input would take Ctrl-Y as "redo".
    Key("ctrl+y", "Ctrl-Y", "copies the last answer", "command('/copy')", priority=True),
    Key("ctrl+b", "Ctrl-B", "lists the branches", "command('/branches')"),
    Key("1", f"1 to {PICKS}", "after /probs N, in the chat log: branch with that alternative",
        "pick_alternative(1)"),
    *(Key(f"{k}", f"{k}", f"branches with alternative {k}", f"pick_alternative({k})", listed=False)
      for k in range(2, PICKS + 1)),
)


def bindings() -> list[Binding]:
    """The app's BINDINGS: every key of the table that an app action handles."""
    return [Binding(k.keys, k.action, k.does, priority=k.priority, show=False) for k in KEYS if k.action]


def welcome() -> str:
    """The line at the top of a new chat: the keys to start with, and where the rest is listed."""
    named = [f"{k.label} {k.does}" for k in KEYS if k.welcome]
    return " · ".join(["**parrot**", *named[:-1], "`/help` lists commands", named[-1]])


QUIT_AGAIN_SECONDS = 3.0
SCROLL_LINES = 3
STOP_SECONDS = 0.1  # what Esc takes where work can stop between steps; past it, the person is told
WORK_NAMES = {"reply": "the reply", "compare": "/compare", "eval": "/eval", "file": "/file's glob",
              "tokenizer": "tokenizer training"}


class KeyActions:
    """The actions of the keys above, for the chat app (it provides chat, loader, activity, bridge, context)."""

    _last_interrupt = 0.0
    chat: Any
    loader: Any
    activity: Any
    bridge: Any
    context: Any
    session: Any

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Esc only means "stop" while something runs (a reply, a download, a long command); otherwise it goes
        # to the focused widget.
        if action == "cancel_reply":
            return self.chat.replying or self.loader.downloading or self.activity.running()
        if action == "pick_alternative":  # digits are typing everywhere but in the log after /probs N
            return self.picking()
        return True

    def picking(self) -> bool:
        """Whether the digits branch now: the log has the focus and /probs N showed alternatives."""
        app: Any = self
        return app.focused is self.chat and pick_position(self.context, self.session) is not None

    def action_cancel_reply(self) -> None:
        self.loader.cancel()
        self.chat.cancel.set()
        self.activity.stop()
        self._last_interrupt = time.monotonic()
        if dropped := self.bridge.drop_waiting():  # "stop" stops what was sent behind it too; the log keeps it
            self.call_later(self.chat.show_note, "not sent (Esc): " + " · ".join(dropped))  # type: ignore[attr-defined]
        self.set_timer(STOP_SECONDS, self._still_stopping)  # type: ignore[attr-defined]

    def _still_stopping(self) -> None:
        """Say what Esc could not stop at once: work inside a step it cannot leave (a part of a long prompt)."""
        left = [WORK_NAMES.get(name, name) for name in self.activity.stopping()]
        if self.loader.downloading:  # a download stops between two of its chunks
            left.append("the download")
        if left:
            said = f"stopping {', '.join(left)}: it ends after the step it is in"
            self.notify(said, timeout=10)  # type: ignore[attr-defined]  (as long as a step may take on a busy machine)

    def action_interrupt(self) -> None:
        from .widgets import SecretScreen

        app: Any = self
        if isinstance(app.screen, SecretScreen):  # Ctrl-C in the token dialog cancels it
            app.screen.dismiss(None)
        elif self.chat.replying or self.activity.running():
            self.action_cancel_reply()
        elif time.monotonic() - self._last_interrupt < QUIT_AGAIN_SECONDS:
            app.exit(0)
        else:
            self._last_interrupt = time.monotonic()
            app.notify("press Ctrl-C again to quit (or Ctrl-Q, or /quit)", timeout=QUIT_AGAIN_SECONDS)

    async def action_quit(self) -> None:
        self.chat.cancel.set()
        self.loader.cancel()  # a download
        self.activity.stop()  # whatever runs, quitting wins (and never waits long for it: DaemonExecutor)
        self.exit(0)  # type: ignore[attr-defined]

    def action_command(self, line: str) -> None:
        self.bridge.run(line)

    def action_scroll_log(self, where: str) -> None:
        chat = self.chat
        if where in ("up", "down"):
            chat.scroll_relative(y=SCROLL_LINES if where == "down" else -SCROLL_LINES, animate=False)
        else:
            getattr(chat, f"scroll_{where}")(animate=False)

    def action_pick_alternative(self, pick: int) -> None:
        position = pick_position(self.context, self.session)
        if position is not None:
            self.bridge.run(f"/probs {position} --pick {pick}")
            self.query_one("#prompt").focus()  # type: ignore[attr-defined]  # picked: back to typing


def pick_position(context: Any, session: Any) -> int | None:
    """The position ``/probs N`` last opened, while the last answer has alternatives there to branch with."""
    position = context.probs_position
    turn = session.conversation.last("assistant")
    if position is None or turn is None or not 0 <= position < len(turn.tokens):
        return None
    return position if turn.tokens[position].top_ids else None
