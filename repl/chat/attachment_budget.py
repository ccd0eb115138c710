"""How much of the context window a prompt's attachments take, counted before it is sent.

Counted with the model's own tokenizer and, for a local model, with the very function that fits a
request into the window (``LocalBackend.prompt_ids``), so "what would be cut" is what will be cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backends.base import Message

from .attachments import Attachment, compose, summary
from .session import Session


@dataclass(frozen=True)
class Budget:
    """Tokens the attachments take, what the window has left without them, and what would be cut."""

    files: tuple[Attachment, ...]
    tokens: int | None  # None: no tokenizer to count with
    window: int | None = None
    left: int | None = None  # room left once the conversation, the prompt, these files and the reply's share are in
    cut_messages: int = 0
    cut_tokens: int = 0
    note: str = ""

    def line(self) -> str:
        """One line for the screen: 'attached a.py (1.2 KiB): 312 tokens · 1,088 of 2,048 left in the window
        after them · nothing cut'."""
        head = f"attached {summary(list(self.files))}"
        if self.tokens is None:
            return f"{head} · {self.note or 'no tokenizer to count with'}"
        parts = [f"{head}: {self.tokens:,} tokens"]
        if self.window is not None and self.left is not None:
            parts.append(f"{self.left:,} of {self.window:,} left in the window after them")
        if self.cut_messages or self.cut_tokens:
            cut = []
            if self.cut_messages:
                cut.append(f"the {self.cut_messages} oldest message(s)")
            if self.cut_tokens:
                cut.append(f"{self.cut_tokens:,} tokens from the start of this prompt")
            parts.append("would cut " + " and ".join(cut))
        elif self.window is not None:
            parts.append("nothing cut")
        return " · ".join(parts)


def measure(session: Session, prompt: str, files: list[Attachment], *, load: bool = True) -> Budget:
    """Count ``files`` against the window as if ``prompt`` were sent with them now.

    ``load=False`` (the app, while typing) counts only with a model that is already loaded.
    """
    files_t = tuple(files)
    backend: Any = session.backend
    blocks = "\n\n".join(f.block() for f in files)
    if hasattr(backend, "prompt_ids"):  # a local model: its tokenizer and its own window fitting
        if not load and not getattr(backend, "is_loaded", False):
            return Budget(files_t, None, note="counted once the model has loaded")
        tokenizer = backend.tokenizer
        tokens = len(tokenizer(blocks, add_special_tokens=False).input_ids)
        window = backend.context_window
        settings = session.settings
        room = window - min(settings.max_new_tokens, window // 2)
        history = session.conversation.messages
        sent, cut_messages, cut_tokens = backend.prompt_ids(history + [Message("user", compose(prompt, files))],
                                                            settings)
        return Budget(files_t, tokens, window, max(0, room - len(sent)), cut_messages, cut_tokens)
    from ..commands.insight import session_tokenizer

    try:  # a hosted model: its tokenizer by name, where one can be had
        named = session_tokenizer(session, "model")
    except Exception:  # noqa: BLE001  counting is a courtesy; sending still works without it
        return Budget(files_t, None, note=f"the {session.backend_name} backend has no tokenizer here to count with")
    return Budget(files_t, len(named.tokenizer.encode(blocks, add_special_tokens=False).ids), named.window)
