"""The line under the chat: backend, model, its choices, sampling, how full the window is, the speed.

What it shows is held in reactive attributes, so the line is drawn again when one of them changes
and never on a timer. The conversation reaches it through the observer the history store uses too:
whatever changes the turns (a reply, /undo, /retry, /continue, a branch switch) moves the ctx count
with it. The app sets the rest as it happens: a model loading, a reply streaming, a command done.
"""

from __future__ import annotations

import os
import time
from typing import Any

from rich.text import Text
from textual import on
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from backends.loading.hub import DownloadProgress

from ..chat.session import Conversation, Session, Turn
from ..chat.truncation import truncation_notice


class StatusBar(Widget):
    """One line of facts about the session; ``sync()`` reads them again from the session."""

    facts: reactive[dict] = reactive(dict)  # the backend's describe(), with its backend and model named
    sampling = reactive("greedy")
    stats: reactive[Any] = reactive(None, always_update=True)  # the last answer's GenerationStats
    used = reactive("")  # tokens of the window the conversation fills, "~N" when estimated
    load_message: reactive[str | None] = reactive(None)  # what the model loader is doing; None once done
    replying = reactive(False)

    class ConversationChanged(Message):
        """A turn was added, extended or dropped (told from whichever thread changed it)."""

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.loading_since: float | None = None
        self._clock: Timer | None = None

    def on_mount(self) -> None:
        if self not in self.session.observers:
            self.session.observers.append(self)
        self.sync()

    def on_unmount(self) -> None:
        if self in self.session.observers:
            self.session.observers.remove(self)

    # The ConversationObserver protocol: called from the thread that changed the conversation.
    def turn_changed(self, conversation: Conversation, turn: Turn) -> None:
        self.post_message(self.ConversationChanged())

    def truncated(self, conversation: Conversation) -> None:
        self.post_message(self.ConversationChanged())

    @on(ConversationChanged)
    def _conversation_changed(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Take the backend's facts, the settings and the window's use from the session as they are now."""
        session = self.session
        facts = dict(session.backend.describe())
        model = str(facts.get("model", session.model or ""))
        if os.sep in model and os.path.exists(model):
            model = os.path.basename(model.rstrip(os.sep))  # a local folder: its name is enough here
        facts["backend"], facts["model"] = facts.get("backend", session.backend_name), model
        self.facts = facts
        settings = session.settings
        self.sampling = sampling_text(settings, facts)
        answer = session.conversation.last("assistant")
        self.stats = answer.stats if answer is not None else None
        self.used = context_used(self.stats, session.conversation) if self.stats is not None else ""

    def show_reply(self, stats: Any) -> None:
        """The reply now streaming: its prompt's length and what was cut, known before its first token."""
        self.stats = stats
        self.used = context_used(stats, self.session.conversation)

    def loading(self, message: str | None, since: float | None = None) -> None:
        """Show what loading the model is doing (``None``: it is done), counting the seconds from ``since``."""
        if since is not None or (message is not None and self.load_message is None):
            self.loading_since = since or time.monotonic()
        self.load_message = message

    def watch_load_message(self, message: str | None) -> None:
        # The one thing on this line that changes with time alone is the loading clock.
        if message is None and self._clock is not None:
            self._clock.stop()
            self._clock = None
        elif message is not None and self._clock is None:
            self._clock = self.set_interval(0.5, self.refresh)

    @property
    def downloading(self) -> bool:
        return isinstance(self.load_message, DownloadProgress)

    def render(self) -> Text:
        facts = self.facts
        parts = [str(facts.get("backend", "")), str(facts.get("model", ""))]
        if self.load_message is not None:
            parts.append(f"{self.load_message} … {time.monotonic() - (self.loading_since or time.monotonic()):.0f}s")
            if self.downloading:
                parts.append("Esc stops the download")
        else:
            parts += [str(facts[k]) for k in ("device", "dtype") if k in facts]
            if facts.get("weights"):  # the layout and what it costs, as the backend words it
                parts.append(str(facts["weights"]))
            parts += [str(facts["mode"])] if "mode" in facts else []
        parts.append(self.sampling)
        window = facts.get("context_window")
        if self.stats is not None:
            parts.append(f"ctx {self.used}/{window or '?'}")
            if truncation_notice(self.stats):
                parts.append("prompt cut to fit")
            if self.stats.tokens_per_second:
                parts.append(f"{self.stats.tokens_per_second:.1f} tok/s")
        elif window:
            parts.append(f"ctx 0/{window}")
        if self.replying:
            parts.append("replying (Esc stops)")
        return Text(" · ".join(parts))


def sampling_text(settings: Any, facts: dict) -> str:
    """greedy, or the sampling temperature; never a temperature the server was seen to ignore."""
    if "temperature" in str(facts.get("ignores", "")).split(", "):
        return "temperature ignored by the server"
    return "greedy" if settings.is_greedy else f"sample temp {settings.temperature:g}"


def context_used(stats: Any, conversation: Any) -> str:
    """Tokens the conversation fills: the server's count, or, from a server that gave none
    (llama-cpp-python, a cut-off stream), an estimate of about four characters a token."""
    if stats.prompt_tokens:
        return str(stats.prompt_tokens + stats.completion_tokens)
    chars = sum(len(m.content) for m in conversation.messages)
    return f"~{max(stats.completion_tokens, chars // 4)}"
