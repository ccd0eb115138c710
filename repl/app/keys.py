"""The app's keys, in one table: the app's bindings and the welcome line are both made from it; and
the actions those keys run (``KeyActions``, which the app inherits)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    keys: str  # Textual's key names
    label: str  # as the person reads them
    does: str
    action: str | None = None  # the app's action; None where the input box handles the key itself
    priority: bool = False  # before the focused widget sees it
    welcome: bool = False  # named in the welcome line


KEYS = (
    Key("enter", "Enter", "sends", welcome=True),
    Key("ctrl+j", "Ctrl-J", "new line", welcome=True),
    Key("up,down", "Up/Down", "history", welcome=True),
    Key("escape", "Esc", "cancels a reply", "cancel_reply", priority=True, welcome=True),
    Key("ctrl+c", "Ctrl-C", "cancels a reply, twice quits", "interrupt", priority=True),
    Key("ctrl+q", "Ctrl-Q", "quits", "quit", priority=True, welcome=True),
    Key("ctrl+y", "Ctrl-Y", "copies the last answer", "command('/copy')"),
    Key("ctrl+b", "Ctrl-B", "lists the branches", "command('/branches')"),
    # After /probs N: branch at N with the K-th alternative, as /probs N --pick K does.
    *(Key(f"alt+{k}", f"Alt-{k}", f"branches with alternative {k}", f"pick_alternative({k})") for k in range(1, 6)),
)


def bindings() -> list[Binding]:
    """The app's BINDINGS: every key of the table that an app action handles."""
    return [Binding(k.keys, k.action, k.does, priority=k.priority, show=False) for k in KEYS if k.action]


def welcome() -> str:
    """The line at the top of a new chat: the keys to start with, and where the rest is listed."""
    named = [f"{k.label} {k.does}" for k in KEYS if k.welcome]
    return " · ".join(["**parrot**", *named[:-1], "`/help` lists commands", named[-1]])


QUIT_AGAIN_SECONDS = 3.0
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Esc only means "stop" while something runs (a reply, a download, a long command); otherwise it goes
        # to the focused widget.
        if action == "cancel_reply":
            return self.chat.replying or self.loader.downloading or self.activity.running()
        return True

    def action_cancel_reply(self) -> None:
        self.loader.cancel()
        self.chat.cancel.set()
        self.activity.stop()
        self._last_interrupt = time.monotonic()
        self.set_timer(STOP_SECONDS, self._still_stopping)  # type: ignore[attr-defined]

    def _still_stopping(self) -> None:
        """Say what Esc could not stop at once: work inside a step it cannot leave (a part of a long prompt)."""
        left = [WORK_NAMES.get(name, name) for name in self.activity.stopping()]
        if left:
            said = f"stopping {', '.join(left)}: it ends after the step it is in"
            self.notify(said, timeout=5)  # type: ignore[attr-defined]

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

    def action_pick_alternative(self, pick: int) -> None:
        position = self.context.probs_position
        if position is None:
            self.notify("open a position first with /probs N", title="branch", timeout=5)  # type: ignore[attr-defined]
        else:
            self.bridge.run(f"/probs {position} --pick {pick}")
