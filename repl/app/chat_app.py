"""The Textual app: it composes the chat, the input and the status bar, and binds the keys.

The window is up at once; the model loads behind it (``ModelLoader``) and a prompt sent meanwhile
waits for it. The chat view owns the reply (``ChatView``), the status bar follows the session on
its own (``StatusBar``), and slash-commands run in a thread through ``CommandBridge``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from textual.app import App, ComposeResult

from backends.settings import GenerationSettings

from .. import commands
from ..chat.activity import Activity
from ..chat.setup import open_session
from ..history.store import HistoryStore
from ..views import terminal_text
from ..views.terminal_text import neutral
from . import keys, terminal_input, terminal_watch
from .attachment_bar import AttachmentBar, preview_prompt
from .chat_view import ChatView
from .daemon_workers import DaemonExecutor
from .command_bridge import CommandBridge
from .finetune_panel import follow_running_finetune, show_panel
from .model_loader import ModelLoader
from .prompt_input import CommandSuggestions, PromptInput
from .status_bar import StatusBar

WELCOME = keys.welcome()
terminal_input.decode_leniently()


class ChatApp(keys.KeyActions, App[int]):
    """parrot's chat window."""

    CSS_PATH = "app.tcss"
    TITLE = "parrot"
    BINDINGS = keys.bindings()

    def __init__(self, backend_name: str, model: str | None, settings: GenerationSettings,
                 options: dict[str, Any], *, resume: bool = False, history: HistoryStore | None = None,
                 first: tuple[str, list] | None = None) -> None:
        super().__init__()
        self.first = first  # --chat: a prompt (and piped files) to send as soon as the window is up
        self.resume = resume
        self.setup = open_session(backend_name, model, settings, options, store=history,
                                  progress=lambda text: self.post_message(ModelLoader.Progress(text)),
                                  note=lambda text: self.post_message(ModelLoader.Noted(text)))
        self.session, self.history = self.setup.session, self.setup.store
        self.activity = Activity()  # the reply and the long commands running now: Esc stops them, quit all
        self.chat = ChatView(self.session, WELCOME, self.activity, id="log")
        self.status = StatusBar(self.session, id="status")
        self.loader = ModelLoader(self, self.session)
        # /finetune started a run (told from the command's thread): its progress panel goes up.
        self.bridge = CommandBridge(self, self.session, self.activity,
                                    on_finetune_started=lambda job: self.bridge.on_ui(show_panel, self, job))
        self.context = self.bridge.context

    def compose(self) -> ComposeResult:
        yield self.chat
        yield CommandSuggestions(id="suggestions")
        yield AttachmentBar(self.session, id="attachments")
        yield PromptInput(id="prompt")
        yield self.status

    async def on_mount(self) -> None:
        asyncio.get_running_loop().set_default_executor(DaemonExecutor())  # a quit never waits for a worker
        self.bridge.main_thread = threading.get_ident()
        self.query_one(PromptInput).focus()
        self.watch(self.chat, "replying", lambda replying: setattr(self.status, "replying", replying))
        if self.resume:
            await self.chat.resume(self.setup)
            self.status.sync()
        if self.first is not None:
            self.session.pending_files = list(self.first[1])
            await self.start_reply(self.first[0])
        for notice in self.setup.notices:  # a damaged or read-only history: said once, the chat goes on
            self.notify(notice, title="history", severity="warning", timeout=15)
        self.loader.start()
        self.call_after_refresh(self.query_one(PromptInput).load_shared_history)  # after the first paint
        self.call_after_refresh(follow_running_finetune, self, self.context)
        if not self.is_headless:
            terminal_watch.leave_when_gone(self)

    @property
    def replying(self) -> bool:
        return self.chat.replying

    def notify(self, message: str, *, title: str = "", markup: bool = False, **options: Any) -> None:
        """Every notice passes the one neutraliser, never as markup: it may quote a file name, a server or a model."""
        super().notify(terminal_text.message(message), title=neutral(title), markup=False, **options)

    # -- what the parts say ----------------------------------------------------------------------

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text
        if commands.is_command(text.strip()):
            if self.replying:
                self.chat.refuse_while_replying(text)
            else:
                self.bridge.run(text.strip())
            return
        if not await self.start_reply(text[1:] if text.startswith("//") else text):
            self.put_back(text)

    async def start_reply(self, prompt: str | None, branch: tuple[int, int] | None = None) -> bool:
        return await self.chat.start_reply(prompt, waiting=self.loader.since is not None, branch=branch)

    def on_chat_view_prompt_cut(self, message: ChatView.PromptCut) -> None:
        self.status.show_reply(message.stats)  # told before the answer, not only after it

    def on_chat_view_prompt_back(self, message: ChatView.PromptBack) -> None:
        self.put_back(message.text)
        if message.focus:
            self.query_one(PromptInput).focus()

    def put_back(self, text: str) -> None:
        """Hand a prompt back to the person, the cursor at its end so that typing goes on from there."""
        self.query_one(PromptInput).show(text)

    async def on_command_bridge_done(self) -> None:
        await self.chat.sync()
        if self.loader.switched:
            self.loader.start()
        self.status.sync()  # a command may have changed anything: settings, model, conversation
        self._preview_attachments()

    def on_model_loader_progress(self, message: ModelLoader.Progress) -> None:
        self.loader.progress(message)

    def on_model_loader_noted(self, message: ModelLoader.Noted) -> None:
        self.loader.noted(message)

    def on_model_loader_ready(self, message: ModelLoader.Ready) -> None:
        if (said := self.loader.ready(message)) is not None:  # a /model switch is told once, after it worked
            self.call_later(self.chat.show_note, said)
        self._preview_attachments()

    def on_model_loader_failed(self, message: ModelLoader.Failed) -> None:
        self.loader.failed(message)
        self._preview_attachments()

    def on_status_bar_conversation_changed(self) -> None:
        self._preview_attachments()  # what queued files will cost depends on the turns

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        self._preview_attachments(event.text_area.text, suggest=True)

    def _preview_attachments(self, text: str | None = None, suggest: bool = False) -> None:
        preview_prompt(self, text, suggest)
