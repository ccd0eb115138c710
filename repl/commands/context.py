"""What a slash-command runs with: the session, the mode it runs in, and the services that mode offers.

Every field is declared here, typed, so that a command and the modes that serve it agree on names;
a mode fills what it can offer (the app a clipboard and a fine-tune panel, a script an error list).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from backends.errors import ParrotError

from ..chat.activity import Activity
from ..chat.session import Session


class UI(Protocol):
    """What a command may ask of the mode it runs in."""

    def show(self, renderable: Any) -> None:
        """Show text or a Rich renderable."""

    def progress(self, text: str | None) -> None:
        """Say what long work is doing now, in place (None: it is over); shown where a mode can."""

    def generate(self, branch: tuple[int, int] | None = None) -> None:
        """Stream a reply to the conversation as it stands (/retry, /continue); with ``branch`` (position,
        pick), the last reply again from that token's alternative (/probs N --pick K)."""

    def quit(self) -> None: ...

    def clear(self) -> None:
        """Forget what is on screen (the conversation itself is the session's)."""

    def edit(self, text: str) -> None:
        """Put ``text`` where the next prompt is typed (/edit)."""

    def read_secret(self, prompt: str) -> str | None:
        """Ask for a secret without echo (a token for /login); None if the person cancels."""


@dataclass
class Background:
    """Work a command leaves running after it returns (a tokenizer being trained), and how it failed.

    ``errors`` is a list where a mode collects failures to report later (a script, in its exit code);
    None where they are shown as they happen.
    """

    errors: list[ParrotError] | None = None
    threads: dict[str, threading.Thread] = field(default_factory=dict)

    def running(self, name: str) -> bool:
        thread = self.threads.get(name)
        return thread is not None and thread.is_alive()

    def start(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"parrot-{name}", daemon=True)
        self.threads[name] = thread
        thread.start()

    def wait(self) -> None:
        """Wait for every piece of background work to end."""
        for thread in list(self.threads.values()):
            thread.join()


@dataclass
class Context:
    """One per mode, shared by the commands it runs."""

    session: Session
    ui: UI
    activity: Activity = field(default_factory=Activity)  # long work running now; Esc and quit stop it
    clipboard: Callable[[str], str] | None = None  # puts text on a clipboard, where the mode has one; says where
    background: Background = field(default_factory=Background)
    finetune_job: Any = None  # the fine-tuning run this chat follows (/finetune status, stop)
    on_finetune_started: Callable[[Any], None] | None = None  # the app shows a new run's progress panel
    probs_position: int | None = None  # the position /probs N last showed: the pick keys branch there
    compare_backends: dict[str, Any] = field(default_factory=dict)  # /compare's models, loaded once each
