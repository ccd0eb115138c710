"""The chat log: prompts, replies streamed as Markdown, command output; and the worker that replies.

A reply is generated in a thread worker that reaches the screen only through the messages nested
here (Started, Finished, Failed), each with one handler, and through the reply's own ReplyStream,
which takes its text and draws it once a frame. Esc or Ctrl-C sets ``cancel``, which the backend
checks every token. A prompt that cannot go out (a reply is still streaming, or it
failed before any text arrived) is handed back to the input with ``PromptBack``.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.widgets import Markdown

from backends.cancel import Cancel
from backends.errors import Cancelled, ParrotError

from ..chat.activity import Activity
from ..chat.replies import stream_reply
from ..chat.session import Session, Turn
from ..chat.setup import Setup, resume_last
from ..chat.truncation import truncation_notice
from ..views.terminal_text import neutral
from .reply_view import ReplyStream
from .widgets import AssistantMessage, Note, UserMessage


class ChatView(VerticalScroll):
    """The conversation as the person sees it, kept in line with ``session.conversation``."""

    replying = var(False)

    class Started(Message, bubble=False):
        """The first text of the reply has arrived (after waiting for the model, if it had to)."""

    class Finished(Message, bubble=False):
        def __init__(self, turn: Turn, stats: Any) -> None:
            super().__init__()
            self.turn, self.stats = turn, stats

    class Failed(Message, bubble=False):
        def __init__(self, error: ParrotError, prompt: str | None) -> None:
            super().__init__()
            self.error, self.prompt = error, prompt

    class Noted(Message, bubble=False):
        """Something to know about the reply: the prompt was cut to fit, the server ignores a setting."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class PromptCut(Message):
        """The backend fitted the prompt by cutting it, before answering (the status bar says so at once)."""

        def __init__(self, stats: Any) -> None:
            super().__init__()
            self.stats = stats

    class PromptBack(Message):
        """A prompt goes back to the input, to be sent again or changed."""

        def __init__(self, text: str, focus: bool = False) -> None:
            super().__init__()
            self.text, self.focus = text, focus

    def __init__(self, session: Session, welcome: str, activity: Activity | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.welcome = welcome
        self.activity = activity if activity is not None else Activity()  # where Esc and quit find the reply
        self.cancel = Cancel()
        self._reply_widget: AssistantMessage | None = None
        self._live: Any = None  # the Reply now streaming, once its backend has started it
        self._user_widget: UserMessage | None = None
        self._first_note_after_clear: Note | None = None  # turns of a /load go above its message
        self._shown = session.conversation

    def compose(self) -> ComposeResult:
        yield Markdown(self.welcome, classes="welcome")

    def on_mount(self) -> None:
        self.anchor()

    # -- a reply ---------------------------------------------------------------------------------

    async def start_reply(self, prompt: str | None, waiting: bool = False,
                          branch: tuple[int, int] | None = None) -> bool:
        """Show the prompt and start the reply worker; None replies to (or continues) the conversation.

        ``waiting``: the model is still loading, which the line under the reply says meanwhile. ``branch``
        (position, pick): the last reply again from a token's alternative; the old one leaves the screen
        once the new one has text (it is kept as a branch).
        """
        if self.replying:
            self.refuse_while_replying(None)  # the caller keeps the prompt
            return False
        turns = self.session.conversation.turns
        continuing = prompt is None and branch is None and bool(turns) and turns[-1].message.role == "assistant"
        self._user_widget = None
        edit_from = self.session.conversation.edit_from
        if prompt is not None and edit_from is not None:  # an edited prompt: what it replaces leaves the screen
            replaced = {id(t) for t in turns[edit_from:]}
            for old in list(self.query("UserMessage, AssistantMessage")):
                if id(getattr(old, "turn", None)) in replaced:
                    await old.remove()
        if prompt is not None:
            self._user_widget = UserMessage(neutral(prompt))
            await self.mount(self._user_widget)
        widget = self._widget_for(turns[-1]) if continuing else None
        if widget is None:
            widget = AssistantMessage()
            await self.mount(widget)
        # A continued reply streams on from its text (which was not on screen after /clear).
        await widget.stream.begin(neutral(turns[-1].message.content) if continuing else "")
        widget.stream.on_frame = lambda: self._show_progress(widget)
        widget.meta.update("waiting for the model to load…" if waiting else "…")
        widget.remove_class("cut-off")
        self.anchor()
        self._reply_widget, self._live = widget, None
        self.cancel = Cancel()
        self.replying = True
        self.generate_reply(prompt, self.cancel, widget.stream, branch)
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="reply")
    def generate_reply(self, prompt: str | None, cancel: Cancel, stream: ReplyStream,
                       branch: tuple[int, int] | None = None) -> None:
        started = False

        def on_chunk(text: str) -> None:
            nonlocal started
            if not started:
                started = True
                self.post_message(self.Started())
            stream.feed(text)  # drawn at the screen's next frame, never a message per piece

        def on_start(reply: Any) -> None:
            self._live = reply  # its token count grows as it decodes: the live footer reads it
            if truncation_notice(reply.stats):
                self.post_message(self.PromptCut(reply.stats))

        try:
            with self.activity.run("reply", cancel):
                turn, reply = stream_reply(self.session, prompt, cancel, on_chunk,
                                           lambda text: self.post_message(self.Noted(text)), on_start, branch)
        except ParrotError as error:
            self.post_message(self.Failed(error, prompt))
            return
        self.post_message(self.Finished(turn, reply.stats))

    @on(Started)
    def _started(self) -> None:
        if self._reply_widget is not None:
            self._reply_widget.meta.update("…")

    @on(Finished)
    async def _finished(self, message: Finished) -> None:
        await self._end_stream()
        if self._reply_widget is not None:
            self._reply_widget.show_end(message.turn)
        if self._user_widget is not None:
            self._user_widget.turn = self.session.conversation.last("user")
        self.replying = False
        await self.sync()  # a branch from a token: the reply it replaced is no longer on this branch

    @on(Noted)
    def _noted(self, message: Noted) -> None:
        self.notify(message.text, severity="warning", timeout=10)

    @on(Failed)
    async def _failed(self, message: Failed) -> None:
        await self._end_stream()
        widget = self._reply_widget
        partial: Turn | None = message.error.partial_turn
        if partial is not None:
            # Text had arrived: it stays, marked cut off, and the prompt stays with it (/retry resends).
            if widget is not None:
                widget.turn = partial
                widget.show_end(partial)
            if self._user_widget is not None:
                self._user_widget.turn = self.session.conversation.last("user")
            self.replying = False
            await self.sync()
            self.notify(str(message.error), title="the reply failed", severity="error", timeout=10)
            return
        if widget is not None:
            if widget.turn is None:
                await widget.remove()
            else:  # a failed /continue: the reply it extended stays as it was
                await widget.markdown.update(neutral(widget.turn.message.content))
                widget.show_end(widget.turn)
        if self._user_widget is not None:
            await self._user_widget.remove()
        self.replying = False
        if isinstance(message.error, Cancelled):  # stopped before any text: as if it was never sent
            self.notify(f"{message.error}; the prompt is back in the input", timeout=5)
        else:
            self.notify(str(message.error), title="the reply failed", severity="error", timeout=10)
        if message.prompt is not None:
            self.post_message(self.PromptBack(message.prompt, focus=True))

    async def _end_stream(self) -> None:
        if self._reply_widget is not None:
            await self._reply_widget.stream.finish()

    def _show_progress(self, widget: AssistantMessage) -> None:
        """The line under a streaming reply, once a frame: how many tokens so far, and how fast."""
        stream, reply = widget.stream, self._live
        tokens = (reply.stats.completion_tokens if reply is not None else 0) or stream.pieces
        if stream.first_piece_at is None or tokens < 2:
            return
        seconds = time.perf_counter() - stream.first_piece_at
        # Over the first moments a rate says little (two tokens a few milliseconds apart).
        speed = f" · {(tokens - 1) / seconds:.1f} tok/s" if seconds > 0.25 else ""
        widget.meta.update(f"{tokens} tokens so far{speed}", layout=False)

    def refuse_while_replying(self, text: str | None) -> None:
        self.notify("a reply is still streaming: wait for it, or press Esc to stop it", severity="warning")
        if text:
            self.post_message(self.PromptBack(text))

    # -- the log and the conversation ------------------------------------------------------------

    async def show_note(self, renderable: Any) -> None:
        """Command output; a string is plain text, never markup (it may hold '[', or what a file said)."""
        note = Note(Text(neutral(renderable)) if isinstance(renderable, str) else renderable)
        await self.mount(note)
        if self._first_note_after_clear is None:
            self._first_note_after_clear = note

    async def clear(self) -> None:
        await self.remove_children()
        self._first_note_after_clear = None

    async def resume(self, setup: Setup, resume: Any = True) -> None:
        """``--continue``: take up the last stored conversation on what it was made with, or say there is none yet."""
        resumed = resume_last(setup, resume)
        if resumed is None:
            self.notify("there is no conversation to continue yet; starting a new one")
            return
        self._shown = resumed.conversation
        await self._mount_turns(resumed.conversation.turns)
        await self.show_note(Text(neutral(f"continuing conversation {resumed.conversation.id}: {resumed.restored}"),
                                  style="dim"))

    async def sync(self) -> None:
        """Bring the log in line with the conversation a command left behind."""
        conversation = self.session.conversation
        if conversation is not self._shown:  # /new, /load, a branch switch
            self._shown = conversation
            await self._mount_turns(conversation.turns, before=self._first_note_after_clear)
            return
        alive = {id(t) for t in conversation.turns}
        for widget in list(self.query("UserMessage, AssistantMessage")):
            turn = getattr(widget, "turn", None)
            if turn is not None and id(turn) not in alive:
                await widget.remove()

    async def _mount_turns(self, turns: list[Turn], before: Any = None) -> None:
        widgets = [UserMessage.of(t) if t.message.role == "user"
                   else AssistantMessage(neutral(t.message.content), t) if t.message.role == "assistant"
                   else Note(Text(f"system: {neutral(t.message.content)}", style="dim")) for t in turns]
        if widgets:
            await self.mount_all(widgets, before=before)

    def _widget_for(self, turn: Turn) -> AssistantMessage | None:
        for widget in self.query(AssistantMessage):
            if widget.turn is turn:
                return widget
        return None
