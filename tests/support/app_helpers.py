"""Helpers for driving the Textual app in tests: read the screen as text, wait for a condition."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any, Callable, Iterator

from backends import registry
from backends.base import BackendInfo
from backends.reply import GenerationStats, Reply, Token


def screen_text(app: Any) -> str:
    """What the person sees right now, one line per terminal row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Let the app run until ``condition`` holds (the timeout only guards against a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out; the screen shows:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


def register_backend(monkeypatch: Any, name: str, cls: type) -> list[Any]:
    """Register ``cls`` as backend ``name`` for one test; returns the list of instances it makes."""
    made: list[Any] = []

    def factory(model: str | None = None, **options: Any) -> Any:
        made.append(cls(model, **options))
        return made[-1]

    monkeypatch.setitem(registry.BACKENDS, name, registry.BackendEntry("test", factory))
    return made


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])


class HeldBackend:
    """The real local backend, but the reply waits after its first chunk until it is cancelled.

    That makes "cancel mid-reply" deterministic with a model that answers in milliseconds; the
    stop itself still happens inside the real decoding loop, which checks the cancel Event.
    """

    name = "held"

    def __init__(self, model: str, **options: Any) -> None:
        self.inner = registry.create("local", model, **options)
        self.first_chunk = threading.Event()

    def load(self) -> Any:
        return self.inner.load()

    def describe(self) -> BackendInfo:
        return replace(self.inner.describe(), backend=self.name)

    def stream(self, messages, settings, cancel=None) -> Reply:
        inner = self.inner.stream(messages, settings, cancel)

        def chunks() -> Iterator[str]:
            for index, chunk in enumerate(inner):
                yield chunk
                if index == 0:
                    self.first_chunk.set()
                    cancel.wait(30)
            yield from (Token(choice) for choice in inner.tokens)

        return Reply(chunks(), inner.stats, cancel)


class SlowLoadingBackend(HeldBackend):
    """The real local backend whose loading waits until the test opens ``gate``."""

    name = "slow-loading"

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        self.gate = threading.Event()

    def load(self) -> Any:
        self.gate.wait(60)
        return self.inner.load()

    def stream(self, messages, settings, cancel=None) -> Reply:
        self.load()
        return self.inner.stream(messages, settings, cancel)


class ExplodingBackend:
    """A backend that breaks in the middle of its answer."""

    name = "exploding"

    def __init__(self, model: str | None = None, partial: str = "", **options: Any) -> None:
        self.model = model or "bomb"
        self.partial = partial  # text sent before breaking

    def describe(self) -> BackendInfo:
        return BackendInfo(self.name, self.model, mode="chat")

    def stream(self, messages, settings, cancel=None) -> Reply:
        def chunks() -> Iterator[str]:
            if self.partial:
                yield self.partial
            raise RuntimeError("the server went away")

        return Reply(chunks(), GenerationStats(backend=self.name, model=self.model))


def svg_text(svg: str) -> str:
    """The visible text of a screenshot saved by ``App.save_screenshot``, one line per terminal row."""
    import html
    import re

    rows: dict[int, list[str]] = {}
    for line, text in re.findall(r'<text [^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>(.*?)</text>', svg, re.S):
        rows.setdefault(int(line), []).append(html.unescape(text).replace("\xa0", " "))
    return "\n".join("".join(rows[i]).rstrip() for i in sorted(rows))
