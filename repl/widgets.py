"""What the chat log is made of: prompts, streamed replies, command output; and the secret dialog."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, Static

from .replies import describe_end
from .session import Turn


class UserMessage(Static):
    def __init__(self, text: str, turn: Turn | None = None) -> None:
        super().__init__(Text(text), classes="user")
        self.turn = turn


class AssistantMessage(Vertical):
    """One reply: Markdown that grows as it streams, and a line saying how it ended."""

    def __init__(self, text: str = "", turn: Turn | None = None) -> None:
        super().__init__(classes="assistant")
        self.turn = turn
        self.initial = text
        self.markdown = Markdown(text)
        self.meta = Static("", classes="meta")

    def compose(self) -> ComposeResult:
        yield self.markdown
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
