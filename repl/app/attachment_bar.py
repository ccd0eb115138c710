"""The line above the app's input that says, before sending, what the prompt's files will cost.

It lists the files queued with /file and those the input names as ``@path``, counted with the
model's own tokenizer against what is left in the window, and what would be cut. Reading and
counting run in a thread worker so that typing never waits for them; a file that would be refused
shows its refusal here already.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.css.query import NoMatches
from textual.widgets import Static

from backends.errors import ParrotError

from ..chat.attachment_budget import measure
from ..chat.attachments import gather
from ..chat.session import Session
from ..views.terminal_text import neutral


class AttachmentBar(Static):
    """Shows ``Budget.line()`` for the prompt being typed; hidden when it attaches nothing."""

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.session = session
        self._last: tuple | None = None

    def preview(self, prompt: str) -> None:
        """Recount for the text now in the input (cheap when nothing that matters changed)."""
        key = (prompt if "@" in prompt else "", tuple(a.sha256 for a in self.session.pending_files),
               len(self.session.conversation.turns), getattr(self.session.backend, "is_loaded", None))
        if key == self._last:
            return
        self._last = key
        if "@" not in prompt and not self.session.pending_files:
            self._show("")
            return
        self._count(prompt)

    @work(thread=True, exclusive=True, exit_on_error=False, group="attachments")
    def _count(self, prompt: str) -> None:
        try:
            files = gather(prompt, self.session.pending_files)
            text = measure(self.session, prompt, files, load=False).line() if files else ""
        except ParrotError as error:
            text = f"would be refused: {error}"
        self.app.call_from_thread(self._show, text)

    def _show(self, text: str) -> None:
        self.update(Text(neutral(text)))  # file names may hold [ ] or escape sequences: shown, never obeyed
        self.set_class(bool(text), "visible")


def preview_prompt(app: Any, text: str | None = None, suggest: bool = False) -> None:
    """What the prompt being typed (``text``, else the input's) will cost, and the commands it may be."""
    from .prompt_input import CommandSuggestions, PromptInput

    try:
        if suggest:
            app.query_one(CommandSuggestions).show_for(text or "")
        app.query_one(AttachmentBar).preview(app.query_one(PromptInput).text if text is None else text)
    except NoMatches:  # a dialog is on top, or the app is closing
        pass


class PromptPreview:
    """The chat app's handlers that keep the preview of the prompt being typed (its files' cost, the
    commands it may be) up to date as it is typed and as the conversation changes."""

    def on_status_bar_conversation_changed(self) -> None:
        self._preview_attachments()  # what queued files will cost depends on the turns

    def on_text_area_changed(self, event: Any) -> None:
        self._preview_attachments(event.text_area.text, suggest=True)

    def _preview_attachments(self, text: str | None = None, suggest: bool = False) -> None:
        preview_prompt(self, text, suggest)
