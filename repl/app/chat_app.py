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

from ..chat.activity import Activity
from ..chat.setup import open_session
from ..history.store import HistoryStore
from ..views import terminal_text
from ..views.terminal_text import neutral
from . import keys, terminal_input, terminal_watch
from .attachment_bar import AttachmentBar, PromptPreview
from .chat_view import ChatView
from .command_bridge import CommandBridge
from .daemon_workers import DaemonExecutor
from .finetune_panel import FinetunePanel, follow_running_finetune, show_panel
from .model_loader import LoaderEvents, ModelLoader
from .prompt_input import CommandSuggestions, PromptInput
from .status_bar import StatusBar
from .typing_focus import TypingGoesToTheInput

WELCOME = keys.welcome()
terminal_input.decode_leniently()


class ChatApp(keys.KeyActions, TypingGoesToTheInput, LoaderEvents, PromptPreview, App[int]):
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
        self.watch(self.chat, "replying", self._replying_changed)
        self.watch(self.screen, "focused", self._focus_moved)
        if self.resume:
            await self.chat.resume(self.setup, self.resume)
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
        if self.replying and not self.bridge.waiting:
            self.chat.refuse_while_replying(text)  # it comes back to the input, ready to send again
            return
        self.bridge.run(text)  # in the order typed: a burst of lines waits its turn, none is lost

    async def send_prompt(self, text: str) -> None:
        """Start the reply to ``text`` (a line the bridge's queue reached); a prompt that cannot go out comes back."""
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

    async def on_command_bridge_done(self, message: CommandBridge.Done) -> None:
        await self.chat.sync()
        if self.loader.switched:
            self.loader.start()
        self.status.sync()  # a command may have changed anything: settings, model, conversation
        self._preview_attachments()
        if message.line.split()[0] == "/probs" and keys.pick_position(self.context, self.session) is not None:
            self.chat.focus()  # its alternatives are a digit away (picking() says when digits branch)
            self.chat.scroll_end(animate=False)
        self._focus_moved(self.focused)  # what the keys do there may have changed with the command
        self.bridge.finished()

    def _replying_changed(self, replying: bool) -> None:
        self.status.replying = replying
        if not replying:
            self.bridge.next()  # lines sent in a burst behind a prompt run once its reply is over

    async def on_finetune_panel_finished(self, message: FinetunePanel.Finished) -> None:
        title, text = message.panel.ending(message.progress)
        await self.chat.show_note(f"{title}: {text}")  # the notification fades; the log keeps it
