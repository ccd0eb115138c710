"""A backend with a script instead of a model, and a clock that ticks the same on every machine.

Screens drawn from it (the snapshot tests) depend on neither a model's words nor the machine's speed:
every reply is the same text, streamed piece by piece with each token's alternatives (so ``/probs``
has something to show), and the Reply's clock advances a fixed step each time it is read.
"""

from __future__ import annotations

from typing import Any, Iterator

from backends.base import BackendInfo
from backends.reply import Finish, GenerationStats, Reply, Started, Text, Token, TokenChoice

ANSWER = (
    "Here is a function that reverses a string:\n\n"
    "```python\n"
    "def reverse(text: str) -> str:\n"
    "    return text[::-1]\n"
    "```\n\n"
    "Slicing with a step of -1 walks the string from its end."
)
RUNNERS_UP = ("Sure", "This", "A", "The")


def pieces(text: str) -> list[str]:
    """The answer as a model streams it: a word at a time, each with the space before it."""
    out: list[str] = []
    for word in text.split(" "):
        out.append(word if not out else " " + word)
    return out


class WordTokenizer:
    """A token a word: enough to count an attachment against the window."""

    def __call__(self, text: str, add_special_tokens: bool = False) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(input_ids=list(range(len(text.split()))))


class ScriptedBackend:
    """Answers every prompt with ``ANSWER``; counts tokens a word at a time."""

    name = "scripted"
    is_loaded = True
    context_window = 8192
    tokenizer = WordTokenizer()

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.model = model or "scripted-coder"

    def describe(self) -> BackendInfo:
        return BackendInfo(self.name, self.model, mode="chat", device="cpu", dtype="bfloat16", quantize="int4",
                           context_window=self.context_window)

    def prompt_ids(self, messages, settings) -> tuple[list[int], int, int]:
        """The prompt's ids as the window sees them (nothing is cut: the window is large)."""
        return [i for m in messages for i in self.tokenizer(m.content).input_ids], 0, 0

    def stream(self, messages, settings, cancel=None) -> Reply:
        prompt_tokens = len(self.prompt_ids(messages, settings)[0])

        def events() -> Iterator[Any]:
            yield Started(prompt_tokens=prompt_tokens, model=self.model, settings=settings, seed=settings.seed)
            for index, piece in enumerate(pieces(ANSWER)):
                yield Text(piece)
                top = [(piece, 0.62), *((f" {word}" if index else word, 0.3 / (rank + 1))
                                        for rank, word in enumerate(RUNNERS_UP))]
                yield Token(TokenChoice(index, piece, 0.62, top, list(range(100, 100 + len(top)))))
            yield Finish("stop")

        return Reply(events(), GenerationStats(backend=self.name, model=self.model), cancel)


class TickingClock:
    """``time`` for backends.reply: every reading is ``step`` seconds after the one before."""

    def __init__(self, step: float = 0.05) -> None:
        self.now, self.step = 1000.0, step

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)


def use_scripted_backend(monkeypatch: Any) -> None:
    """Register ``scripted`` as a backend and give replies the ticking clock, for one test."""
    import backends.reply
    from tests.support.app_helpers import register_backend

    register_backend(monkeypatch, "scripted", ScriptedBackend)
    monkeypatch.setattr(backends.reply, "time", TickingClock())
