"""A reply as it streams: text drawn once a frame, the growing block as plain text, each finished
block rendered once as Markdown.

Textual's ``MarkdownStream`` (which Toad uses too) hands every piece to ``Markdown.append``, which
parses the last block again, rebuilds its widgets (a code block is highlighted again) and lays out
the whole chat: about 6 ms of the UI thread a token, more than half a core at a hundred tokens a
second, which on a small machine the decoder needs. Here the decoding thread only adds text to a
buffer; the first piece after a frame wakes the screen, which takes everything that arrived since,
at most once a frame (fewer when drawing costs more than SHARE of a core). The block still growing
is shown as plain text, and laid out again only when its height changes; once the next block has
begun, it is final and goes to the Markdown widget, which renders it once.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Callable

from markdown_it import MarkdownIt
from rich.text import Text
from textual import constants, on
from textual.message import Message
from textual.widgets import Markdown, Static

from ..views.terminal_text import neutral

FRAME = 1 / constants.MAX_FPS  # the screen's own refresh period (TEXTUAL_FPS, 60 by default)
SHARE = 0.05  # of a core, at most, for drawing a reply: the decoder shares the machine with the screen
# (0.15 left the app at 0.75x of --plain on 2 cores; 0.05 gives 0.99x at about 16 frames a second: bench/app_reply.py)
LONGEST_WAIT = 0.5  # seconds between two frames, however long the last one took
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def parser() -> MarkdownIt:
    """The parser Textual's Markdown widget uses, so that blocks end where its own do."""
    return MarkdownIt("gfm-like")


def finished_length(text: str, markdown: MarkdownIt | None = None) -> int:
    """How much of ``text`` (which starts at a block's first line) is blocks that more text cannot change:
    everything before the last block of its complete lines, as ``Markdown.append`` assumes too."""
    complete = text[: text.rfind("\n") + 1]
    starts = [token.map[0] for token in (markdown or parser()).parse(complete)
              if token.level == 0 and token.map is not None and token.nesting >= 0]
    if len(starts) < 2:
        return 0
    lines = complete.split("\n")
    return sum(len(line) + 1 for line in lines[: starts[-1]])


def growing_view(block: str, code: bool) -> tuple[str, bool]:
    """What the growing block shows until it is final: its source, or a code block's code without
    its fences; and whether it is code."""
    block = block.lstrip("\n")
    if code:
        return block, True
    opener = FENCE.match(block)
    if opener is None:
        return block, False
    fence = opener.group(1)
    closing = re.compile(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*")
    lines = block.split("\n")[1:]
    for index, line in enumerate(lines[:-1]):  # the last line may be a closing fence still arriving
        if closing.fullmatch(line):
            return "\n".join(lines[:index]), True
    return "\n".join(lines), True


class FramePacer:
    """When the next frame may be drawn: at the screen's frame rate while drawing is cheap, less often
    once it costs more than SHARE of a core. The cost is the UI thread's own CPU time, so it counts
    the layout and rendering Textual does after a frame, which grow with the widgets in the chat."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.due, self._debt = 0.0, 0.0
        self._at, self._cpu = time.monotonic(), time.thread_time()

    def drawn(self) -> None:
        """A frame was drawn (on the UI thread): work out when the next one may be."""
        now, cpu = time.monotonic(), time.thread_time()
        self._debt = max(0.0, self._debt + (cpu - self._cpu) - SHARE * (now - self._at))
        self._at, self._cpu = now, cpu
        self.due = now + min(LONGEST_WAIT, max(FRAME, self._debt / SHARE))


class ReplyStream(Static):
    """The part of a reply still arriving. ``feed`` may be called from any thread; ``finish`` leaves
    the reply's Markdown exactly as rendering the whole text at once would."""

    DEFAULT_CSS = """
    ReplyStream {
        display: none;
        margin: 0 0 1 0;
    }
    ReplyStream.-code {
        margin: 1 0;
        padding: 1 2;
        color: rgb(210,210,210);
        background: black 10%;
    }
    """

    class Frame(Message, bubble=False):
        """Text has arrived since the last frame."""

    def __init__(self, markdown: Markdown, code: bool = False) -> None:
        super().__init__("", markup=False)
        self.markdown = markdown
        self.code = code  # a completion model's text: one code block, final only at the end
        self.on_frame: Callable[[], None] | None = None  # after each frame is drawn (the live footer)
        self.pieces = 0  # how many pieces were fed
        self.first_piece_at: float | None = None  # when the first one was fed (time.perf_counter)
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._waking = False
        self._drawing = asyncio.Lock()
        self._growing = ""  # the text after the last final block, from a line's start
        self._parser = parser()
        self._pacer = FramePacer()
        self._streaming = False

    async def begin(self, text: str = "") -> None:
        """Start streaming into an empty reply, or after ``text`` (a reply being continued)."""
        async with self._drawing:
            await self.markdown.update("")
            with self._lock:
                self._pending, self._waking, self.pieces, self.first_piece_at = [], False, 0, None
            self._growing, self._streaming = "", True
            self._pacer.restart()
            await self._draw(text)

    def feed(self, text: str) -> None:
        """Add a piece of the reply (from the decoding thread); the screen shows it at its next frame."""
        with self._lock:
            if self.first_piece_at is None:
                self.first_piece_at = time.perf_counter()
            self.pieces += 1
            self._pending.append(text)
            if self._waking:
                return
            self._waking = True
        self.post_message(self.Frame())

    @on(Frame)
    async def _frame(self) -> None:
        await asyncio.sleep(self._pacer.due - time.monotonic())  # meanwhile more text may arrive
        async with self._drawing:
            if not self._streaming:
                return
            await self._draw(self._take(final=False))
            if self.on_frame is not None:
                self.on_frame()
            self._pacer.drawn()

    async def finish(self) -> None:
        """Draw what is left and render the growing block as Markdown."""
        async with self._drawing:
            self._streaming = False
            text = self._growing + self._take(final=True)
            self._growing = ""
            if self.code:
                await self.markdown.update(text)
            elif text:
                await self.markdown.append(text)
            await self._agree()
            self.display = False
            self.update("")

    def _take(self, final: bool) -> str:
        with self._lock:
            text = "".join(self._pending)
            self._pending.clear()
            self._waking = False
            if text.endswith("\r") and not final:  # the rest of a CRLF may be in the next piece
                self._pending.append("\r")
                text = text[:-1]
        return neutral(text)  # model text may hold escape sequences

    async def _draw(self, text: str) -> None:
        self._growing += text
        if not self.code and "\n" in text:  # a block can only become final where a line ends
            done = finished_length(self._growing, self._parser)
            if done:
                await self.markdown.append(self._growing[:done])
                self._growing = self._growing[done:]
        shown, code = growing_view(self._growing, self.code)
        self.set_class(code, "-code")
        self.update(Text(shown), layout=False)
        if self.display != bool(shown):
            self.display = bool(shown)  # lays out
        elif shown and self.content_size.width and self.get_content_height(
                self.content_size, self.app.size, self.content_size.width) != self.content_size.height:
            self.refresh(layout=True)  # one more line: only then is the chat laid out again

    async def _agree(self) -> None:
        """Blocks end where a parse of the whole text ends them, except where a later line changed an
        earlier block (a link reference defined below it): then the whole reply is rendered again."""
        if self.code:
            return  # one code block, rendered from the whole text
        env: dict = {}
        source = self.markdown.source
        tokens = self._parser.parse(source, env)
        whole = [tuple(t.map) for t in tokens if t.level == 0 and t.map is not None and t.nesting >= 0]
        shown = [getattr(block, "source_range", None) for block in self.markdown.children]
        if env.get("references") or whole != shown:
            await self.markdown.update(source)
