"""The app's input box: Enter sends, a newline key adds a line, Up/Down walk the prompt history;
and the list of commands above it that match what is being typed.

A TextArea rather than an Input because prompts are often several lines (pasted code keeps its
newlines). Slash-commands are completed inline through TextArea's suggestion hook (Right or Tab
accepts), fed by the same table as /help; so are paths after ``/file`` or an ``@``.
"""

from __future__ import annotations

import os
from typing import Any

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Static, TextArea

from ..chat.attachments import path_completions, word_to_complete
from ..commands import completions, lookup
from ..commands.table import COMMANDS
from ..views.terminal_text import neutral

NEWLINE_KEYS = {"ctrl+j", "shift+enter", "alt+enter", "ctrl+enter"}


class PromptInput(TextArea):
    """Multi-line prompt editor that submits on Enter."""

    BINDINGS = [Binding("tab", "accept_suggestion", "complete", show=False)]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, prompt_history: list[str] | None = None, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self.prompt_history = prompt_history if prompt_history is not None else []  # oldest first
        self._position: int | None = None  # index into history while browsing
        self._draft = ""
        self._shared: Any = None  # the prompt history file, once read

    def load_shared_history(self) -> None:
        """Share the plain REPL's prompt history file, so Up finds prompts from either mode."""
        from backends import paths

        from ..history.store_open import prompt_history

        self._shared, notice = prompt_history(paths.prompt_history_file)
        if notice:
            self.notify(notice, severity="warning", timeout=10)
        self.prompt_history[:0] = list(reversed(list(self._shared.load_history_strings())))

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.submit()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def render_line(self, y: int) -> Strip:
        # Text pasted in (or a failed command put back) may hold escape sequences: they are drawn as
        # symbols, never sent to the terminal; what is sent stays as it was typed.
        strip = super().render_line(y)
        if all(neutral(segment.text) == segment.text for segment in strip):
            return strip
        width = strip.cell_length
        shown = [segment if segment.control else Segment(neutral(segment.text), segment.style) for segment in strip]
        return Strip(shown).crop(0, width)

    def submit(self) -> None:
        """Send what is in the box (nothing when it is blank), as Enter does."""
        text = self.text
        if not text.strip():
            return
        if self._shared is not None:
            self._shared.store_string(text)
        if not self.prompt_history or self.prompt_history[-1] != text:
            self.prompt_history.append(text)
        self._position = None
        self.clear()
        self.post_message(self.Submitted(text))

    def update_suggestion(self) -> None:
        text = self.text
        row, column = self.cursor_location
        at_end = row == self.document.line_count - 1 and column == len(self.document[row])
        if not at_end:
            self.suggestion = ""
            return
        fragment = word_to_complete(text)
        if fragment is not None:  # a path after /file or @: the part every match shares, or the one match
            paths = path_completions(fragment)
            shared = os.path.commonprefix(paths) if paths else ""
            self.suggestion = shared[len(fragment):] if shared.startswith(fragment) else ""
            return
        if "\n" in text:
            self.suggestion = ""
            return
        found = completions(text)
        self.suggestion = found[0][len(text):] if found and found[0] != text else ""

    def action_accept_suggestion(self) -> None:
        if self.suggestion:
            self.insert(self.suggestion)
        else:
            self.screen.focus_next()

    # Up on the first line and Down on the last walk the history; elsewhere they move the cursor.
    def action_cursor_up(self, select: bool = False) -> None:
        if select or self.cursor_location[0] > 0 or not self.prompt_history:
            return super().action_cursor_up(select)
        if self._position is None:
            self._draft, self._position = self.text, len(self.prompt_history)
        if self._position > 0:
            self._position -= 1
            self.show(self.prompt_history[self._position])

    def action_cursor_down(self, select: bool = False) -> None:
        if select or self._position is None or self.cursor_location[0] < self.document.line_count - 1:
            return super().action_cursor_down(select)
        self._position += 1
        if self._position >= len(self.prompt_history):
            self._position = None
            self.show(self._draft)
        else:
            self.show(self.prompt_history[self._position])

    def show(self, text: str) -> None:
        """Put ``text`` in the box, the cursor at its end so that typing goes on from there."""
        self.text = text
        self.move_cursor(self.document.end)


class CommandSuggestions(Static):
    """The commands that match the word being typed, each with its summary (from the one table)."""

    def show_for(self, text: str) -> None:
        found = completions(text) if "\n" not in text and " " not in text else []
        lines = [f"[b]{name}[/b]  [dim]{lookup(name[1:]).summary}[/dim]" for name in found[:8] if name[1:] in COMMANDS]
        self.update("\n".join(lines))
        self.set_class(bool(lines), "visible")
