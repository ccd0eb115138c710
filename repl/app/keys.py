"""The app's keys, in one table: the app's bindings and the welcome line are both made from it."""

from __future__ import annotations

from dataclasses import dataclass

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
