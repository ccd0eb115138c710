"""The Textual app: a chat log with replies streamed as Markdown, an input, and a status bar.

The window is up at once; the model loads in a background worker and a prompt sent meanwhile waits
for it. Replies are generated in a thread worker that reaches the UI only through named messages
(ResponseStarted, Chunk, ResponseFinished, ResponseFailed). Esc or Ctrl-C sets the reply's cancel
Event, which the backend checks every token. Slash-commands also run in a thread, so that one may
block (a secret prompt, a model switch) without freezing the screen.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import var
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from backends.errors import BackendError, Cancelled, ParrotError
from backends.settings import GenerationSettings

from . import commands
from .attachment_bar import AttachmentBar
from .commands.table import COMMANDS, Context
from .finetune_panel import FinetunePanel
from .history import HistoryStore
from .app_events import (Chunk, CommandDone, ModelFailed, ModelProgress, ModelReady, ResponseFailed,
                       ResponseFinished, ResponseStarted)
from .prompt_input import PromptInput
from .crash import unexpected
from .replies import stream_reply
from .terminal_text import neutral
from .truncation import truncation_notice
from .session import Session, Turn
from .status_bar import StatusBar
from .widgets import AssistantMessage, Note, SecretScreen, UserMessage

WELCOME = ("**parrot** · Enter sends · Ctrl-J new line · Up/Down history · Esc cancels a reply · "
           "`/help` lists commands · Ctrl-Q quits")
QUIT_AGAIN_SECONDS = 3.0


# -- the app -------------------------------------------------------------------------------------

class ChatApp(App[int]):
    """parrot's chat window. Implements the command UI protocol (show, generate, quit, clear, read_secret)."""

    wide = True  # commands may show columns here (/compare side by side) where other modes stack text
    replying = var(False)

    CSS_PATH = "app.tcss"
    TITLE = "parrot"
    BINDINGS = [
        Binding("escape", "cancel_reply", "cancel", priority=True, show=False),
        Binding("ctrl+c", "interrupt", "cancel / quit", priority=True, show=False),
        Binding("ctrl+q", "quit", "quit", priority=True, show=False),
        Binding("ctrl+y", "copy_answer", "copy answer", show=False),
        Binding("ctrl+b", "show_branches", "branches", show=False),
        # After /probs N: branch at N with the K-th alternative, as /probs N --pick K does.
        *(Binding(f"alt+{k}", f"pick_alternative({k})", f"branch with alternative {k}", show=False)
          for k in range(1, 6)),
    ]

    def __init__(self, backend_name: str, model: str | None, settings: GenerationSettings,
                 options: dict[str, Any], *, resume: bool = False, history: HistoryStore | None = None,
                 first: tuple[str, list] | None = None) -> None:
        super().__init__()
        self.first = first  # --chat: a prompt (and piped files) to send as soon as the window is up
        self.session = Session(backend_name, model, settings, progress=self._report_progress, **options)
        self.history = history if history is not None else HistoryStore()
        self.history.attach(self.session)
        self.resume = resume
        self.cancel = threading.Event()
        self.loading_since: float | None = None
        self.load_message = ""
        self._stream: MarkdownStream | None = None
        self._reply_widget: AssistantMessage | None = None
        self._user_widget: UserMessage | None = None
        self._last_interrupt = 0.0
        self._prompt_history: Any = None
        self._first_note_after_clear: Note | None = None  # turns of a /load go above its message
        self._shown_conversation = self.session.conversation
        self._backend = self.session.backend
        self._after_load: str | None = None  # what a /model or /backend says once its model has loaded
        self._working: tuple[Any, str, str | None] | None = None  # the last backend that loaded: kept on a failed switch
        self._main_thread = threading.get_ident()
        self.context = Context(self.session, self, {"clipboard": self._copy,
                                                    "finetune_started": self._follow_finetune})

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log"):
            yield Markdown(WELCOME, classes="welcome")
        yield Static("", id="suggestions")
        yield AttachmentBar(self.session, id="attachments")
        yield PromptInput(id="prompt")
        yield StatusBar(self.session, id="status")

    async def on_mount(self) -> None:
        self._main_thread = threading.get_ident()
        self.query_one("#log", VerticalScroll).anchor()
        self.query_one(PromptInput).focus()
        if self.resume:
            last = self.history.last_id()
            if last is None:
                self.notify("there is no conversation to continue yet; starting a new one")
            else:
                self.session.conversation = self.history.load(last)
                self._shown_conversation = self.session.conversation
                await self._mount_turns(self.session.conversation.turns)
                self.status.sync()
        if self.first is not None:
            self.session.pending_files = list(self.first[1])
            await self.start_reply(self.first[0])
        for notice in self.history.notices:  # a damaged or read-only history: said once, the chat goes on
            self.notify(notice, title="history", severity="warning", timeout=15)
        self.start_loading()
        self.call_after_refresh(self._load_prompt_history)  # prompt_toolkit's import waits for the first paint
        self.call_after_refresh(self._follow_running_finetune)

    # -- model loading -------------------------------------------------------------------------

    def start_loading(self) -> None:
        self._backend = self.session.backend
        self.loading_since = time.monotonic()
        self.load_message = f"loading {self.session.model or 'the default model'}"
        self.status.loading(self.load_message, since=self.loading_since)
        self.status.sync()
        self.load_backend(self.session.backend)

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load_backend(self, backend: Any) -> None:
        load: Callable[[], Any] | None = getattr(backend, "load", None)
        try:
            if load is not None:
                load()
        except ParrotError as error:
            self.post_message(ModelFailed(backend, error))
        except Exception as error:  # noqa: BLE001  shown to the person; the chat goes on
            self.post_message(ModelFailed(backend, unexpected(error, "loading the model")))
        else:
            self.post_message(ModelReady(backend))

    def _report_progress(self, text: str) -> None:
        self.post_message(ModelProgress(text))  # thread-safe: called from the loading worker

    def on_model_progress(self, message: ModelProgress) -> None:
        if self.loading_since is None:  # after loading: a backend's note (a retry, a setting it ignores)
            self.notify(message.text, timeout=8)
            return
        self.load_message = message.text
        self.status.loading(message.text)

    def on_model_ready(self, message: ModelReady) -> None:
        if message.backend is not self.session.backend:
            return  # a model switched away from while it loaded
        self._working = (self.session.backend, self.session.backend_name, self.session.model)
        self.loading_since = None
        if self._after_load is not None:  # a /model switch is told once, after it worked
            self.call_later(self._show_note, self._after_load)
            self._after_load = None
        self._loaded()

    def on_model_failed(self, message: ModelFailed) -> None:
        if message.backend is not self.session.backend:
            return
        self.loading_since = None
        self.load_message = "model not loaded"
        self._after_load = None  # the failure is the one thing said
        error = str(message.error)
        if self._working is not None:  # a failed /model or /backend keeps the one that worked
            self.session.backend, self.session.backend_name, self.session.model = self._working
            self.session.models[self.session.backend_name] = self.session.model
            self._backend = self.session.backend
            error += f"; still using {self.session.model or self.session.backend_name}"
        self.notify(error, title="could not load the model", severity="error", timeout=10)
        self._loaded()

    def _loaded(self) -> None:
        self.status.loading(None)
        self.status.sync()  # a loaded model knows its device, dtype and window
        self._preview_attachments()

    # -- sending -------------------------------------------------------------------------------

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text
        self._add_prompt_history(text)
        if commands.is_command(text.strip()):
            if self.replying:
                self._refuse_while_replying(text)
                return
            self.run_command(text.strip())
            return
        prompt = text[1:] if text.startswith("//") else text
        if not await self.start_reply(prompt):
            self._put_back(text)

    async def start_reply(self, prompt: str | None) -> bool:
        """Show the prompt and start the reply worker; None replies to (or continues) the conversation."""
        if self.replying:
            self._refuse_while_replying(prompt)
            return False
        log = self.query_one("#log", VerticalScroll)
        turns = self.session.conversation.turns
        continuing = prompt is None and bool(turns) and turns[-1].message.role == "assistant"
        self._user_widget = None
        edit_from = self.session.conversation.edit_from
        if prompt is not None and edit_from is not None:  # an edited prompt: what it replaces leaves the screen
            replaced = {id(t) for t in turns[edit_from:]}
            for old in list(log.query("UserMessage, AssistantMessage")):
                if id(getattr(old, "turn", None)) in replaced:
                    await old.remove()
        if prompt is not None:
            self._user_widget = UserMessage(neutral(prompt))
            await log.mount(self._user_widget)
        widget = self._widget_for(turns[-1]) if continuing else None
        if widget is None:
            widget = AssistantMessage()
            await log.mount(widget)
            if continuing:  # the continued text was not on screen (after /clear): show it first
                await widget.markdown.update(neutral(turns[-1].message.content))
        widget.meta.update("waiting for the model to load…" if self.loading_since else "…")
        widget.remove_class("cut-off")
        log.anchor()
        self._reply_widget = widget
        self._stream = Markdown.get_stream(widget.markdown)
        self.cancel = threading.Event()
        self.replying = True
        self.generate_reply(prompt, self.cancel)
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="reply")
    def generate_reply(self, prompt: str | None, cancel: threading.Event) -> None:
        started = False

        def on_chunk(text: str) -> None:
            nonlocal started
            if not started:
                started = True
                self.post_message(ResponseStarted())
            self.post_message(Chunk(text))

        try:
            turn, reply = stream_reply(self.session, prompt, cancel, on_chunk)
        except ParrotError as error:
            self.post_message(ResponseFailed(error, prompt))
            return
        self.post_message(ResponseFinished(turn, reply.stats))

    def on_response_started(self, message: ResponseStarted) -> None:
        if self._reply_widget is not None:
            self._reply_widget.meta.update("…")

    async def on_chunk(self, message: Chunk) -> None:
        if self._stream is not None:
            await self._stream.write(neutral(message.text))  # model text may hold escape sequences

    async def on_response_finished(self, message: ResponseFinished) -> None:
        await self._end_stream()
        if self._reply_widget is not None:
            self._reply_widget.show_end(message.turn)
        if self._user_widget is not None:
            self._user_widget.turn = self.session.conversation.last("user")
        self.replying = False
        if notice := truncation_notice(message.stats):
            self.notify(notice, title="the prompt was cut", severity="warning", timeout=10)

    async def on_response_failed(self, message: ResponseFailed) -> None:
        await self._end_stream()
        widget = self._reply_widget
        partial: Turn | None = getattr(message.error, "partial_turn", None)
        if partial is not None:
            # Text had arrived: it stays, marked cut off, and the prompt stays with it (/retry resends).
            if widget is not None:
                widget.turn = partial
                widget.show_end(partial)
            if self._user_widget is not None:
                self._user_widget.turn = self.session.conversation.last("user")
            self.replying = False
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
            self._put_back(message.prompt)
            self.query_one(PromptInput).focus()

    async def _end_stream(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    def _refuse_while_replying(self, text: str | None) -> None:
        self.notify("a reply is still streaming: wait for it, or press Esc to stop it", severity="warning")
        if text:
            self._put_back(text)

    def _put_back(self, text: str) -> None:
        """Hand a prompt back to the person, the cursor at its end so that typing goes on from there."""
        prompt_input = self.query_one(PromptInput)
        prompt_input.text = text
        prompt_input.move_cursor(prompt_input.document.end)

    # -- cancel and quit -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Esc only means "stop" while a reply streams or a model downloads; otherwise it goes to the focused widget.
        if action == "cancel_reply":
            return self.replying or self.downloading
        return True

    @property
    def downloading(self) -> bool:
        return self.loading_since is not None and self.status.downloading

    def action_cancel_reply(self) -> None:
        if self.downloading and hasattr(self.session.backend, "cancel_load"):
            self.session.backend.cancel_load()  # the load worker then fails with one line; the chat goes on
        self.cancel.set()
        self._last_interrupt = time.monotonic()

    def action_interrupt(self) -> None:
        if isinstance(self.screen, SecretScreen):  # Ctrl-C in the token dialog cancels it
            self.screen.dismiss(None)
            return
        if self.replying:
            self.action_cancel_reply()
            return
        if time.monotonic() - self._last_interrupt < QUIT_AGAIN_SECONDS:
            self.exit(0)
            return
        self._last_interrupt = time.monotonic()
        self.notify("press Ctrl-C again to quit (or Ctrl-Q, or /quit)", timeout=QUIT_AGAIN_SECONDS)

    async def action_quit(self) -> None:
        self.cancel.set()
        self.exit(0)

    def action_copy_answer(self) -> None:
        self.run_command("/copy")

    def action_show_branches(self) -> None:
        self.run_command("/branches")

    # -- fine-tuning ---------------------------------------------------------------------------

    def _follow_finetune(self, job: Any) -> None:
        """/finetune started a run (called from the command's thread): show its progress panel."""
        self._on_ui(self._mount_finetune_panel, job)

    async def _mount_finetune_panel(self, job: Any) -> None:
        for old in self.query(FinetunePanel):
            await old.remove()
        await self.mount(FinetunePanel(job), before="#suggestions")

    async def _follow_running_finetune(self) -> None:
        """A run started by an earlier parrot may still be going: follow it too."""
        from finetune.job import attach

        job = attach("js")
        if job is not None and job.running:
            self.context.extras["finetune_job"] = job
            await self._mount_finetune_panel(job)

    def on_finetune_panel_finished(self, message: FinetunePanel.Finished) -> None:
        # The notification says how it ended; the panel stays a while, then gives the room back.
        self.set_timer(20, lambda: message.panel.remove() if message.panel.is_attached else None)

    # -- commands ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="command")
    def run_command(self, line: str) -> None:
        try:
            commands.run(line, self.context)
        except ParrotError as error:
            self.call_from_thread(self._show_error, error, line)
        except Exception as error:  # noqa: BLE001  a broken command must not take the chat down
            self.call_from_thread(self._show_error, unexpected(error, line.split()[0]), line)
        self.post_message(CommandDone())

    def _show_error(self, error: ParrotError, line: str) -> None:
        self.notify(str(error), title=line.split()[0], severity="error", timeout=8)

    async def on_command_done(self, message: CommandDone) -> None:
        """Bring the log in line with the conversation the command left behind."""
        conversation = self.session.conversation
        log = self.query_one("#log", VerticalScroll)
        if conversation is not self._shown_conversation:
            self._shown_conversation = conversation
            await self._mount_turns(conversation.turns, before=self._first_note_after_clear)
        else:
            alive = {id(t) for t in conversation.turns}
            for widget in list(log.query("UserMessage, AssistantMessage")):
                turn = getattr(widget, "turn", None)
                if turn is not None and id(turn) not in alive:
                    await widget.remove()
        if self.session.backend is not self._backend:
            self.start_loading()
        self.status.sync()  # a command may have changed anything: settings, model, conversation
        self._preview_attachments()

    def action_pick_alternative(self, pick: int) -> None:
        position = self.context.extras.get("probs_position")
        if position is None:
            self.notify("open a position first with /probs N", title="branch", timeout=5)
            return
        self.run_command(f"/probs {position} --pick {pick}")

    # The UI protocol. Commands call these from their thread; each hops to the UI thread.

    def show(self, renderable: Any) -> None:
        self._on_ui(self._show_note, renderable)

    def after_load(self, text: str) -> None:
        """Say ``text`` once the model a command switched to has loaded (nothing if it fails)."""
        self._after_load = text

    def generate(self) -> None:
        self._on_ui(self.start_reply, None)

    def quit(self) -> None:
        self.cancel.set()
        self._on_ui(self.exit, 0)

    def clear(self) -> None:
        self._on_ui(self._clear_log)

    def edit(self, text: str) -> None:
        """/edit: the prompt goes back in the input, to be changed and sent."""
        self._on_ui(self._put_back, text)

    def read_secret(self, prompt: str) -> str | None:
        if threading.get_ident() == self._main_thread:
            raise BackendError("a secret can only be asked for from a command")
        answered = threading.Event()
        result: list[str | None] = [None]

        def closed(value: str | None) -> None:
            result[0] = value
            answered.set()

        self.call_from_thread(self.push_screen, SecretScreen(prompt), closed)
        answered.wait()
        return result[0]

    def _on_ui(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function`` on the UI thread: wait for it from a worker, queue it from the UI thread."""
        if threading.get_ident() == self._main_thread:
            self.call_later(function, *args)
        else:
            self.call_from_thread(function, *args)

    async def _show_note(self, renderable: Any) -> None:
        # A string is plain text, never markup: it may hold '[', or text a file or the model wrote.
        note = Note(Text(neutral(renderable)) if isinstance(renderable, str) else renderable)
        await self.query_one("#log", VerticalScroll).mount(note)
        if self._first_note_after_clear is None:
            self._first_note_after_clear = note

    async def _clear_log(self) -> None:
        log = self.query_one("#log", VerticalScroll)
        await log.remove_children()
        self._first_note_after_clear = None

    async def _mount_turns(self, turns: list[Turn], before: Any = None) -> None:
        widgets = [UserMessage(neutral(t.message.content), t) if t.message.role == "user"
                   else AssistantMessage(neutral(t.message.content), t) if t.message.role == "assistant"
                   else Note(Text(f"system: {neutral(t.message.content)}", style="dim")) for t in turns]
        if widgets:
            await self.query_one("#log", VerticalScroll).mount_all(widgets, before=before)

    def _widget_for(self, turn: Turn) -> AssistantMessage | None:
        for widget in self.query(AssistantMessage):
            if widget.turn is turn:
                return widget
        return None

    def _copy(self, text: str) -> None:
        self._on_ui(self.copy_to_clipboard, text)

    # -- suggestions, status, prompt history ---------------------------------------------------

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        text = event.text_area.text
        try:
            box = self.query_one("#suggestions", Static)
            self.query_one(AttachmentBar).preview(text)
        except NoMatches:  # a dialog is on top, or the app is closing
            return
        found = commands.completions(text) if "\n" not in text and " " not in text else []
        lines = [f"[b]{name}[/b]  [dim]{commands.lookup(name[1:]).summary}[/dim]" for name in found[:8]
                 if name[1:] in COMMANDS]
        box.update("\n".join(lines))
        box.set_class(bool(lines), "visible")

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def watch_replying(self, replying: bool) -> None:
        self.status.replying = replying

    def on_status_bar_conversation_changed(self) -> None:
        self._preview_attachments()  # what queued files will cost depends on the turns

    def _preview_attachments(self) -> None:
        try:
            self.query_one(AttachmentBar).preview(self.query_one(PromptInput).text)
        except NoMatches:  # a dialog is on top, or the app is closing
            pass

    def _load_prompt_history(self) -> None:
        """Share the plain REPL's prompt history file, so Up finds prompts from either mode."""
        from .history import prompt_history_path
        from .store_open import prompt_history

        self._prompt_history, notice = prompt_history(prompt_history_path)
        if notice:
            self.notify(notice, severity="warning", timeout=10)
        earlier = list(reversed(list(self._prompt_history.load_history_strings())))
        prompt_input = self.query_one(PromptInput)
        prompt_input.prompt_history[:0] = earlier

    def _add_prompt_history(self, text: str) -> None:
        if self._prompt_history is not None:
            self._prompt_history.store_string(text)


def can_host_app() -> bool:
    """False for terminals a full-screen app cannot use (TERM=dumb, unknown, or not a terminal)."""
    import sys

    term = os.environ.get("TERM", "")
    return sys.stdout.isatty() and sys.stdin.isatty() and term not in {"", "dumb", "unknown"}


def run_app(backend_name: str, model: str | None, settings: GenerationSettings, options: dict[str, Any],
            *, resume: bool = False, first: tuple[str, list] | None = None) -> int:
    """Run the chat app until the person quits; falls back to the plain REPL where the app cannot run."""
    if not can_host_app():
        from .plain import run_plain

        return run_plain(backend_name, model, settings, options, resume=resume, first=first)
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars would scribble over the screen
    app = ChatApp(backend_name, model, settings, options, resume=resume, first=first)
    app.run()
    app.history.close()
    return app.return_code or 0
