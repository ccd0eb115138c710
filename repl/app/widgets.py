"""What the chat log is made of: prompts, streamed replies, command output; and the secret dialog."""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, Static

from ..chat.attachments import split_composed
from ..chat.replies import describe_end
from ..chat.session import Turn
from ..views.terminal_text import neutral
from .reply_view import ReplyStream


class UserMessage(Static):
    """A prompt as typed; once it is a turn, with the files that went with it."""

    def __init__(self, text: str, turn: Turn | None = None) -> None:
        super().__init__(Text(text), classes="user")
        self.prompt_text = text
        self._turn = turn

    @classmethod
    def of(cls, turn: Turn) -> "UserMessage":
        """A stored prompt as it was typed, with the files that went with it named, not pasted (a resumed chat)."""
        text, _ = split_composed(turn.message.content, turn.attachments)
        widget = cls(neutral(text))
        widget.turn = turn
        return widget

    @property
    def turn(self) -> Turn | None:
        return self._turn

    @turn.setter
    def turn(self, turn: Turn | None) -> None:
        self._turn = turn
        if turn is not None and turn.attachments and turn.message.content != self.prompt_text:
            files = ", ".join(f"{a['path']} ({a['size']} bytes)" for a in turn.attachments)
            self.update(Text.assemble(self.prompt_text, ("\nattached: " + files, "dim")))


class ReplyMarkdown(Markdown):
    """A reply's text; with ``code`` (a completion model's continuation) shown as one code block.

    A completion model writes code, not Markdown: rendered as Markdown its lines run together
    (``class A { x = 0; y = 0;``). As a code block every line break and indent stays. Streaming
    goes through the same ``append``/``update`` as Markdown, so the app's stream needs no change.
    """

    def __init__(self, text: str = "", code: bool = False) -> None:
        self.code = code
        self.text = text
        super().__init__(text)  # shown through update() on mount, which fences it

    def update(self, markdown: str):  # type: ignore[override]
        self.text = markdown
        return super().update(fenced(markdown) if self.code and markdown else markdown)

    def append(self, markdown: str):  # type: ignore[override]
        if not self.code:
            self.text += markdown
            return super().append(markdown)
        return self.update(self.text + markdown)


def fenced(code: str) -> str:
    """``code`` as a Markdown code block, with a fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{code}\n{fence}"


def completion_mode(app: Any) -> bool:
    """Whether the app's current model continues text (no chat template) rather than chatting."""
    session = getattr(app, "session", None)
    try:
        return session is not None and session.backend.describe().completion
    except Exception:  # no backend yet, or one that cannot describe itself: show Markdown
        return False


class AssistantMessage(Vertical):
    """One reply: Markdown (or code, from a completion model), the part still arriving while it
    streams, and how it ended."""

    def __init__(self, text: str = "", turn: Turn | None = None, code: bool | None = None) -> None:
        super().__init__(classes="assistant")
        self.turn = turn
        self.initial = text
        if code is None:
            try:
                code = completion_mode(self.app)
            except Exception:  # made outside a running app
                code = False
        self.markdown = ReplyMarkdown(text, code)
        self.stream = ReplyStream(self.markdown, code)
        self.meta = Static("", classes="meta")

    def compose(self) -> ComposeResult:
        yield self.markdown
        yield self.stream
        yield self.meta

    def on_mount(self) -> None:
        if self.turn is not None:
            self.show_end(self.turn)

    def show_end(self, turn: Turn) -> None:
        self.turn = turn
        self.meta.update(describe_end(turn))
        self.set_class(turn.cut_off, "cut-off")


class Note(Static):
    """Output of a command: text or any Rich renderable."""

    def __init__(self, renderable: Any) -> None:
        super().__init__(renderable, classes="note")


class SecretScreen(ModalScreen[str | None]):
    """Asks for a secret (a token for /login) without showing it."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="secret-box"):
            yield Label(self.prompt)
            yield Input(password=True, id="secret")
            yield Label("Enter to confirm, Esc to cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value or None)
