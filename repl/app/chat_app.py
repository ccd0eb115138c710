"""The Textual app: it composes the chat, the input and the status bar, and binds the keys.

The window is up at once; the model loads behind it (``ModelLoader``) and a prompt sent meanwhile
waits for it. The chat view owns the reply (``ChatView``), the status bar follows the session on
its own (``StatusBar``), and slash-commands run in a thread through ``CommandBridge``.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult

from backends.settings import GenerationSettings

from ..chat.activity import Activity
from ..chat.setup import open_session
from ..history.store import HistoryStore
from . import keys, terminal_watch
from .attachment_bar import AttachmentBar, preview_prompt
from .chat_view import ChatView
from .command_bridge import CommandBridge
from .finetune_panel import FinetunePanel, follow_running_finetune, show_panel
from .model_loader import ModelLoader
from .prompt_input import CommandSuggestions, PromptInput
from .status_bar import StatusBar

WELCOME = keys.welcome()


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

    # -- the focus, and keys typed where the input is not ---------------------------------------

    def _focus_moved(self, focused: object) -> None:
        if focused is not self.chat:
            self.status.hint = ()
        elif (position := keys.pick_position(self.context, self.session)) is not None:
            picks = f"1-{keys.PICKS} branch at #{position}"
            self.status.hint = (f"{picks} · other keys type in the input", picks)
        else:
            self.status.hint = ("chat log: arrows, PageUp/PageDown, Home/End scroll · typing goes to the input",
                                "typing goes to the input")

    def on_key(self, event: events.Key) -> None:
        """A key the chat log does not use goes to the input, so that what is typed there is never lost."""
        prompt = self.query_one(PromptInput)
        if self.focused is prompt or len(self.screen_stack) > 1:
            return
        bound = self.screen.active_bindings.get(event.key)
        if bound is not None and bound.enabled:
            return  # a key of the log (scrolling), the screen (Tab) or the app (a pick)
        if event.is_printable and event.character:
            prompt.insert(event.character)
        elif event.key == "enter":
            prompt.submit()
        elif event.key == "backspace":
            prompt.action_delete_left()
        elif event.key != "escape":
            return
        event.prevent_default()
        event.stop()
        self._back_to_the_input()

    def on_paste(self, event: events.Paste) -> None:
        prompt = self.query_one(PromptInput)
        if self.focused is not prompt and len(self.screen_stack) == 1:
            prompt.insert(event.text)
            self._back_to_the_input()

    def _back_to_the_input(self) -> None:
        # The keys of one terminal write all reach the log before the first is handled here, and each is
        # handled here in order; the focus moves once they are through, so that none jumps the queue.
        self.chat.call_later(self.screen.set_focus, self.query_one(PromptInput))

    def on_model_loader_progress(self, message: ModelLoader.Progress) -> None:
        self.loader.progress(message)

    def on_model_loader_noted(self, message: ModelLoader.Noted) -> None:
        self.loader.noted(message)

    def on_model_loader_ready(self, message: ModelLoader.Ready) -> None:
        if (said := self.loader.ready(message)) is not None:  # a /model switch is told once, after it worked
            self.call_later(self.chat.show_note, said)
        self._preview_attachments()

    async def on_model_loader_failed(self, message: ModelLoader.Failed) -> None:
        if (said := self.loader.failed(message)) is not None:
            await self.chat.show_note(Text(said, style="red"))  # the notification fades; the log keeps it
        self._preview_attachments()

    async def on_finetune_panel_finished(self, message: FinetunePanel.Finished) -> None:
        title, text = message.panel.ending(message.progress)
        await self.chat.show_note(f"{title}: {text}")  # the notification fades; the log keeps it

    def on_status_bar_conversation_changed(self) -> None:
        self._preview_attachments()  # what queued files will cost depends on the turns

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        self._preview_attachments(event.text_area.text, suggest=True)

    def _preview_attachments(self, text: str | None = None, suggest: bool = False) -> None:
        preview_prompt(self, text, suggest)
