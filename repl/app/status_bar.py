"""The line under the chat: backend, model, its choices, sampling, how full the window is, the speed.

What it shows is held in reactive attributes, so the line is drawn again when one of them changes
and never on a timer. The conversation reaches it through the observer the history store uses too:
whatever changes the turns (a reply, /undo, /retry, /continue, a branch switch) moves the ctx count
with it. The app sets the rest as it happens: a model loading, a reply streaming, a command done.
On a narrow terminal the facts give way by priority (``line_fit``): the window's use, the speed and
what is going on now stay; the backend's name and the weights' details go first.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import on
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from backends.base import BackendInfo
from backends.hosted.sampling_check import VERIFIED
from backends.loading.hub import DownloadProgress

from ..chat.context_count import context_used
from ..chat.session import Conversation, Session, Turn
from ..chat.truncation import truncation_notice
from .line_fit import Fact, cut, fact, fit


class StatusBar(Widget):
    """One line of facts about the session; ``sync()`` reads them again from the session."""

    facts: reactive[BackendInfo | None] = reactive(None)  # the backend's describe(), its model as shown here
    sampling = reactive("greedy")
    stats: reactive[Any] = reactive(None, always_update=True)  # the last answer's GenerationStats
    used = reactive("")  # tokens of the window the conversation fills, "~N" when estimated
    load_message: reactive[str | None] = reactive(None)  # what the model loader is doing; None once done
    replying = reactive(False)
    work: reactive[str | None] = reactive(None)  # what a long command is doing now (/compare, /eval)
    waiting = reactive(0)  # lines sent in a burst that wait for the one before them
    hint: reactive[tuple[str, ...]] = reactive(())  # what the keys do where the focus is (longest form first)

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

    def branch_kept(self, conversation: Conversation, branch: Any) -> None:
        pass  # the turns that leave with it are told by ``truncated``

    def branch_taken(self, conversation: Conversation, branch: Any) -> None:
        pass  # the turns that come with it are told by ``turn_changed``

    @on(ConversationChanged)
    def _conversation_changed(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Take the backend's facts, the settings and the window's use from the session as they are now."""
        session = self.session
        facts = session.backend.describe()
        model = facts.model or session.model or ""
        if os.sep in model and os.path.exists(model):
            model = os.path.basename(model.rstrip(os.sep))  # a local folder: its name is enough here
        self.facts = facts = replace(facts, model=model)
        settings = session.settings
        self.sampling = sampling_text(settings, facts)
        answer = session.conversation.last("assistant")
        self.stats = answer.stats if answer is not None else None
        self.used = context_used(self.stats, session) if self.stats is not None else ""

    def show_reply(self, stats: Any) -> None:
        """The reply now streaming: its prompt's length and what was cut, known before its first token."""
        self.stats = stats
        self.used = context_used(stats, self.session)

    def show_work(self, text: str | None) -> None:
        """Say what a long command is doing now; None once it is over."""
        self.work = text

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
        return fit(self.facts_now(), self.content_size.width)

    def facts_now(self) -> list[Fact]:
        """What the line says now, each fact with its priority and shorter forms."""
        facts = self.facts or BackendInfo(self.session.backend_name, self.session.model or "")
        model = facts.model or ""
        line = [fact(facts.backend, priority=1),
                fact(model, cut(model, 24), cut(model, 12), priority=7, drop=False)]
        if self.load_message is not None:
            line.append(loading_fact(self.load_message, time.monotonic() - (self.loading_since or time.monotonic())))
            if self.downloading:
                line.append(fact("Esc stops the download", "Esc stops", priority=9, drop=False))
        else:
            line += [fact(facts.device, priority=3),
                     fact(facts.dtype, SHORT_DTYPES.get(facts.dtype or "", facts.dtype), priority=2)]
            if facts.weights and facts.perplexity:  # the layout and what it costs, once measured; short: the layout
                line.append(fact(facts.weights, facts.weights.split(",")[0].split(" (")[0], priority=2))
            elif facts.quantize not in (None, "none"):
                line.append(fact(f"{facts.quantize} weights", str(facts.quantize), priority=2))
            line.append(fact(facts.mode, priority=4))
        line.append(fact(self.sampling, self.sampling.replace("sample ", "").replace("temperature", "temp"),
                         priority=5))
        window = facts.context_window
        if self.stats is not None:
            line.append(fact(f"ctx {self.used}/{window or '?'}", priority=9, drop=False))
            if truncation_notice(self.stats):
                line.append(fact("prompt cut to fit", "cut", priority=8, drop=False))
            if self.stats.tokens_per_second:
                line.append(fact(f"{self.stats.tokens_per_second:.1f} tok/s", priority=8))
        elif window:
            line.append(fact(f"ctx 0/{window}", priority=9, drop=False))
        if self.work:
            line.append(fact(self.work, cut(self.work, 32), cut(self.work, 16), priority=8, drop=False))
        if self.waiting:
            line.append(fact(f"{self.waiting} waiting", priority=9, drop=False))
        if self.hint:
            line.append(fact(*self.hint, priority=9))
        if self.replying:
            line.append(fact("replying (Esc stops)", "replying", priority=10, drop=False))
        return [f for f in line if f.forms[0]]


SHORT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
BAR_CELLS = 16


def loading_fact(message: str, seconds: float) -> Fact:
    """What loading is doing: a bar where it counts its steps (a download, a conversion), else the seconds."""
    fraction = getattr(message, "fraction", None)
    if fraction is None:
        clock = f" … {seconds:.0f}s"
        return fact(message + clock, cut(message, 40) + clock, cut(message, 20) + clock, f"loading{clock}",
                    priority=9, drop=False)
    percent = f" {100 * fraction:3.0f}%"
    name, _, numbers = str(message).partition(": ")  # "converting X: 40% (110 of 273 tensors)"
    detail = numbers.partition(" ")[2]
    return fact(Text.assemble(name, ": ", bar(fraction, BAR_CELLS), percent, " ", detail),
                Text.assemble(name, ": ", bar(fraction, BAR_CELLS), percent),
                Text.assemble(cut(name, 24), ": ", bar(fraction, BAR_CELLS // 2), percent),
                Text.assemble(bar(fraction, BAR_CELLS // 2), percent), percent.strip(), priority=9, drop=False)


def bar(fraction: float, cells: int) -> Text:
    """A progress bar ``cells`` wide, as Rich draws them."""
    done = round(cells * min(1.0, max(0.0, fraction)))
    return Text.assemble(("━" * done, "bold"), ("━" * (cells - done), "dim"))


def sampling_text(settings: Any, facts: BackendInfo) -> str:
    """greedy, or the sampling temperature; never a temperature the server was seen to ignore, and
    "unverified" until a server was seen to sample (a local model always does)."""
    if "temperature" in facts.ignores:
        return "temperature ignored by the server"
    if settings.is_greedy:
        return "greedy"
    claim = f"sample temp {settings.temperature:g}"
    checked = facts.sampling  # what a server was seen to do, as /settings says it
    return claim if checked is None or str(checked).startswith(VERIFIED) else f"{claim} (unverified)"
