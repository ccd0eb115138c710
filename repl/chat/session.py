"""The state every mode shares: the backend, the settings and the conversation.

The Textual app, the plain REPL and scripts each own one Session and differ only in how they show
it. Generation itself runs wherever the caller iterates the Reply (a worker thread in the app).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from backends import registry
from backends.base import Backend, Message
from backends.reply import GenerationStats, Reply, TokenChoice
from backends.settings import GenerationSettings

from . import attachments
from .attachments import Attachment


@dataclass
class Turn:
    """One message, and for assistant turns how it was produced."""

    message: Message
    stats: GenerationStats | None = None
    settings: GenerationSettings | None = None
    tokens: list[TokenChoice] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    attachments: list[dict] = field(default_factory=list)  # files in a user turn: path, size, sha256

    @property
    def cut_off(self) -> bool:
        return self.stats is not None and self.stats.finish_reason in {"cancelled", "length", "error"}


class ConversationObserver(Protocol):
    """Something that follows a conversation's changes, e.g. the history database."""

    def turn_changed(self, conversation: "Conversation", turn: Turn) -> None: ...

    def truncated(self, conversation: "Conversation") -> None: ...

    def branch_kept(self, conversation: "Conversation", branch: Any) -> None:
        """A branch the conversation parted from is kept (repl.chat.branches.Branch)."""

    def branch_taken(self, conversation: "Conversation", branch: Any) -> None:
        """A kept branch became the current one and is no longer kept apart."""


@dataclass
class Conversation:
    """The turns of one chat, and the only code that changes them: append, extend, truncate.

    Each change is told to ``observers`` (the history store subscribes once, per session), so no
    command has to remember to save. A turn is found by its place; a tree of turns would give each
    a parent instead, and these three operations stay the ones that change it.
    """

    turns: list[Turn] = field(default_factory=list)
    id: int | None = None  # the history row, once stored
    title: str = ""
    branches: list = field(default_factory=list)  # kept paths (repl.chat.branches.Branch), oldest first
    branch: int = 1  # the number of the path in ``turns`` among them (/branches)
    edit_from: int | None = None  # /edit: the next prompt replaces the turns from here, kept as a branch
    observers: list[ConversationObserver] = field(default_factory=list, repr=False, compare=False)

    @property
    def messages(self) -> list[Message]:
        """What a model is sent: every message but empty answers, which would only confuse it
        (llama.cpp's server answers a conversation holding one with nothing again)."""
        return [t.message for t in self.turns if t.message.content or t.message.role != "assistant"]

    def last(self, role: str) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.message.role == role), None)

    def append(self, turn: Turn) -> Turn:
        self.turns.append(turn)
        self._changed(turn)
        return turn

    def extend(self, turn: Turn, text: str, tokens: list[TokenChoice], stats: GenerationStats) -> Turn:
        """Add a continuation (/continue) to the assistant ``turn``: its text, tokens and counts."""
        turn.message.content += text
        turn.tokens.extend(tokens)
        turn.stats = stats if turn.stats is None else turn.stats.extended_by(stats)
        self._changed(turn)
        return turn

    def truncate(self, keep: int) -> list[Turn]:
        """Drop the turns after the first ``keep`` (/undo, /retry, a failed reply); returns them."""
        dropped = self.turns[keep:]
        del self.turns[keep:]
        if dropped:
            for observer in self.observers:
                observer.truncated(self)
        return dropped

    def keep_branch(self, branch: Any) -> None:
        """Keep ``branch`` (its turns leave the current branch next, by ``truncate``)."""
        self.branches.append(branch)
        for observer in self.observers:
            observer.branch_kept(self, branch)

    def take_branch(self, index: int) -> Any:
        """Take kept branch ``index`` out of the kept ones, to become the current branch."""
        branch = self.branches.pop(index)
        for observer in self.observers:
            observer.branch_taken(self, branch)
        return branch

    def announce(self) -> None:
        """Tell the observers about every turn: a conversation read from a file becomes a stored one."""
        for turn in self.turns:
            self._changed(turn)

    def _changed(self, turn: Turn) -> None:
        for observer in self.observers:
            observer.turn_changed(self, turn)


class Session:
    """Backend + settings + conversation, and the operations slash-commands perform on them."""

    def __init__(self, backend_name: str = registry.DEFAULT_BACKEND, model: str | None = None,
                 settings: GenerationSettings | None = None, progress: Callable[[str], None] | None = None,
                 note: Callable[[str], None] | None = None, **backend_options: Any) -> None:
        self.settings = settings or GenerationSettings()
        self.progress = progress  # what loading a model is doing now (a line that replaces the last)
        self.note = note  # something a backend tells the person once (a retry, a setting a server ignores)
        self.backend_options = dict(backend_options)
        self.observers: list[ConversationObserver] = []  # subscribed once; every conversation shares them
        self.history: Any = None  # the store that keeps conversations (/history, /load), once attached
        self.conversation = Conversation()
        self.backend_name = backend_name
        self.model = model
        self.backend: Backend = self._create(backend_name, model)
        self.models: dict[str, str | None] = {backend_name: model}  # the model last used with each backend
        self.pending_files: list[Attachment] = []  # queued by /file for the next prompt
        self.told_ignored: set[str] = set()  # settings a server was seen to ignore, told once a session

    def use_backend(self, name: str, model: str | None = None, **options: Any) -> None:
        """Switch backend (and model); the conversation is kept.

        Without a model, a backend gets the one it was last used with (``-m`` or an earlier switch), so that
        ``/backend local`` and back to ``/backend openai`` never silently lets a server pick another model.
        """
        if model is None:
            model = self.models.get(name)
        self.backend_options.update(options)
        backend = self._create(name, model)
        self.backend, self.backend_name, self.model = backend, name, model
        self.models[name] = model

    def _create(self, name: str, model: str | None) -> Backend:
        return registry.create(name, model, progress=self.progress, note=self.note, **self.backend_options)

    @property
    def conversation(self) -> Conversation:
        return self._conversation

    @conversation.setter
    def conversation(self, conversation: Conversation) -> None:
        """Switch conversation (/new, /load); the observers follow it."""
        conversation.observers = self.observers
        self._conversation = conversation

    def add(self, turn: Turn) -> Turn:
        return self.conversation.append(turn)

    def ask(self, prompt: str, cancel: threading.Event | None = None) -> Reply:
        """Add the user's prompt and start the reply; call ``finish_reply`` once it is consumed.

        Files queued with /file and those the prompt names as ``@path`` go into the message; a file
        that is refused raises before anything is added.
        """
        files = attachments.gather(prompt, self.pending_files)
        content = attachments.compose(prompt, files) if files else prompt
        self.add(Turn(Message("user", content), attachments=[f.record() for f in files]))
        return self.reply(cancel)

    def reply(self, cancel: threading.Event | None = None) -> Reply:
        """Start a reply to the conversation as it stands (also used by /retry and /continue)."""
        return self.backend.stream(self.conversation.messages, self.settings, cancel)

    def finish_reply(self, reply: Reply) -> Turn:
        """Record a consumed (or cancelled, or failed part-way) reply as an assistant turn."""
        reply.finish()  # a reply stopped early by its reader still gets its ending and counts
        settings = reply.settings or self.settings  # as decoded: per-mode defaults filled in
        if reply.stats.seed is not None and settings.seed is None:
            settings = settings.updated(seed=reply.stats.seed)  # stored so the turn can be replayed
        return self.add(Turn(Message("assistant", reply.text), reply.stats, settings, reply.tokens))
