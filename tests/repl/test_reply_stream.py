"""A streamed reply ends on the screen exactly as the same reply rendered at once.

The reply is fed in pieces of one character, one token and random sizes, from another thread as the
decoder feeds it, with frames drawn in between (so blocks become final at many different points);
then what the screen shows is compared with a reply rendered from its whole text.
"""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path
from typing import Iterator

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal

from backends.base import BackendInfo
from backends.reply import GenerationStats, Reply
from backends.settings import GenerationSettings
from repl.app import chat_app
from repl.app.chat_app import ChatApp
from repl.app.widgets import AssistantMessage, Note
from tests.support.app_helpers import register_backend, type_text, wait_until

CODE = """## Checking primes

A number is **prime** when no `d` in `2..isqrt(n)` divides it:

```python
import math


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))
```

The same in a shell, with a fence of tildes:

~~~sh
$ python -c 'print(7)'
7
~~~

A fence inside a fence needs a longer one:

````markdown
```js
console.log("hi")
```
````
Done."""

LISTS = """Steps:

1. Read the number.
2. Try each divisor:
   - from 2
   - up to the square root
3. Stop at the first one.

- a loose list

- whose items

- are apart

  with a second paragraph.

* an item with code:

  ```python
  print("in a list")
  ```

Text after the lists.
10) a list starting at ten
11) and going on"""

TABLES = """| n | prime | why |
|--:|:-----:|-----|
| 1 | no | below 2 |
| 7 | yes | no divisor |
| 9 | no | 3 divides it |

A paragraph right before a table
| a | b |
|---|---|
| 1 | 2 |

> A quote that goes
on lazily.

Setext heading
==============

---

See [the docs][docs] for more.

A paragraph between the link and its definition,

and another one.

[docs]: https://example.com/docs

```python
print("a fence the reply never closes")"""

REPLIES = {"code": CODE, "lists": LISTS, "tables": TABLES}


def token_pieces(text: str, tokenizer_folder: Path) -> list[str]:
    """``text`` as a byte-level BPE tokenizer streams it: each piece the decoded text one token adds."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_folder / "tokenizer.json"))
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    pieces, shown = [], ""
    for end in range(1, len(ids) + 1):
        now = tokenizer.decode(ids[:end])
        if now.endswith("\ufffd") and end < len(ids):
            continue  # half a character: the decoder holds it back
        pieces.append(now[len(shown):])
        shown = now
    assert "".join(pieces) == text
    return pieces


def chunked(text: str, how: str, tokenizer_folder: Path) -> list[str]:
    if how == "char":
        return list(text)
    if how == "token":
        return token_pieces(text, tokenizer_folder)
    sizes = random.Random(len(text)).choices(range(1, 40), k=len(text))
    pieces, at = [], 0
    for size in sizes:
        if at >= len(text):
            break
        pieces.append(text[at:at + size])
        at += size
    return pieces


class SideBySide(App):
    """The streamed reply on the left, the same text rendered at once on the right, styled as in the chat."""

    CSS_PATH = str(Path(chat_app.__file__).with_name("app.tcss"))
    CSS = "Horizontal { height: auto; } AssistantMessage { width: 1fr; }"

    def __init__(self, text: str, code: bool) -> None:
        super().__init__()
        self.streamed = AssistantMessage(code=code)
        self.whole = AssistantMessage(text, code=code)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield self.streamed
            yield self.whole


def cells(strip) -> list[tuple]:
    """A rendered line as its characters, each with what a person sees of its style."""
    line = []
    for segment in strip:
        style = segment.style
        look = None if style is None else (style.color, style.bgcolor, style.bold, style.italic,
                                            style.underline, style.strike, style.reverse, style.dim)
        line += [(char, look) for char in segment.text]
    return line


def screen_cells(app: App) -> list[list[tuple]]:
    """What the screen shows, character by character with its colours and attributes."""
    return [cells(strip) for strip in app.screen._compositor.render_strips()]


def halves(app: App, width: int) -> tuple[list[list[tuple]], list[list[tuple]]]:
    lines = screen_cells(app)
    return [line[: width // 2] for line in lines], [line[width // 2:] for line in lines]


def text_of(lines: list[list[tuple]]) -> str:
    return "\n".join("".join(char for char, _ in line).rstrip() for line in lines)


async def stream_side_by_side(text: str, pieces: list[str], code: bool = False) -> tuple[list[str], list[str]]:
    size = (120, 220)
    app = SideBySide(text, code)
    async with app.run_test(size=size) as pilot:
        stream = app.streamed.stream
        await stream.begin()
        drawn = threading.Event()
        stream.on_frame = drawn.set
        choose = random.Random(7)

        def decode() -> None:  # as the reply worker: pieces from another thread, frames in between
            for piece in pieces:
                stream.feed(piece)
                if choose.random() < 24 / len(pieces):
                    drawn.clear()
                    drawn.wait(5)

        await asyncio.to_thread(decode)
        await pilot.pause(0.05)
        middle = halves(app, size[0])[0]
        await stream.finish()
        await pilot.pause(0.2)
        streamed, whole = halves(app, size[0])
        assert text_of(middle).strip()  # text was on the screen before the reply ended
        return streamed, whole


@pytest.mark.parametrize("how", ["char", "token", "random"])
@pytest.mark.parametrize("name", list(REPLIES))
async def test_a_streamed_reply_ends_as_the_whole_reply_renders(name, how, tiny_llama):
    text = REPLIES[name]
    streamed, whole = await stream_side_by_side(text, chunked(text, how, tiny_llama))
    assert text_of(streamed) == text_of(whole)  # the text first: a readable failure
    assert streamed == whole  # and every colour and attribute
    assert {"code": "def is_prime", "lists": "Text after the lists.", "tables": "See the docs for more."}[name] \
        in text_of(whole)


async def test_a_completion_models_code_streams_into_the_same_code_block(tiny_llama):
    code = "class Stack {\n  constructor() {\n    this.items = [];\n  }\n\n  push(x) { this.items.push(x); }\n}\n" * 3
    streamed, whole = await stream_side_by_side(code, chunked(code, "token", tiny_llama), code=True)
    assert streamed == whole
    assert "this.items = [];" in text_of(whole)


class Scripted:
    """A backend that answers every prompt with one fixed reply, one character at a time."""

    name = "scripted"
    reply = ""

    def __init__(self, model: str | None = None, **options) -> None:
        self.model = model or "scripted"

    def load(self) -> None:
        pass

    def describe(self) -> BackendInfo:
        return BackendInfo(self.name, self.model, mode="chat")

    def stream(self, messages, settings, cancel=None) -> Reply:
        def pieces() -> Iterator[str]:
            for index, char in enumerate(self.reply):
                if index % 16 == 0:
                    threading.Event().wait(0.002)  # a decoder's pace: frames fall between pieces
                yield char

        return Reply(pieces(), GenerationStats(backend=self.name, model=self.model), cancel)


async def test_the_chat_shows_a_streamed_reply_as_it_shows_the_stored_one(monkeypatch):
    """Through the app: the screen after a streamed reply, and after --continue renders it from history."""
    register_backend(monkeypatch, "scripted", Scripted)
    monkeypatch.setattr(Scripted, "reply", CODE + "\n\n" + LISTS)
    size = (100, 140)
    app = ChatApp("scripted", None, GenerationSettings(greedy=True), {})
    async with app.run_test(size=size) as pilot:
        await type_text(pilot, "primes please")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.replying and bool(app.session.conversation.turns))
        await pilot.pause(0.2)
        streamed = screen_cells(app)[:-5]  # the chat, above the input and the status line
    resumed = ChatApp("scripted", None, GenerationSettings(greedy=True), {}, resume=True)
    async with resumed.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: bool(resumed.query(AssistantMessage)))
        for note in resumed.query(Note):  # the line under a resumed chat that says what it continues
            await note.remove()
        await pilot.pause(0.2)
        stored = screen_cells(resumed)[:-5]
    assert text_of(streamed) == text_of(stored)
    assert streamed == stored
    assert "def is_prime" in text_of(stored) and "Text after the lists." in text_of(stored)
