"""Errors that say how to fix them.

Every error a user can cause or meet carries a one-line message and, where there is one, a hint
naming the fix. The UI layers print ``str(error)``; nothing here formats for a screen.
"""

from __future__ import annotations

from typing import Any


class ParrotError(Exception):
    """Base for every error parrot expects and explains."""

    def __init__(self, message: str, hint: str | None = None, chat_hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # The same fix said as a slash-command, for where the error is shown inside the chat
        # (``/backend openai URL`` there, ``--base-url URL`` on the command line).
        self.chat_hint = chat_hint
        # A failed reply: the Reply with the text that did arrive (backends.reply), and the turn the chat
        # kept of it, marked cut off (repl.chat); None where nothing had arrived.
        self.reply: Any = None
        self.partial_turn: Any = None

    def in_chat(self) -> "ParrotError":
        """This error as the chat shows it: the hint names the slash-command, if there is one."""
        if self.chat_hint:
            self.hint = self.chat_hint
        return self

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class SettingsError(ParrotError, ValueError):
    """A generation setting is out of range or of the wrong type."""


class UsageError(ParrotError):
    """A command or flag was used wrongly."""


class ModelUnavailable(ParrotError):
    """A model could not be found or loaded."""


class BackendError(ParrotError):
    """A backend failed while answering (HTTP status, crash in generation, ...)."""


class NeedsToken(BackendError):
    """A hosted backend needs an access token and none is configured."""


class Cancelled(ParrotError):
    """The person stopped a reply (Esc, Ctrl-C). Raised inside a backend to end it at once; a reply
    stopped before any text arrived is reported to the caller as this, so the prompt can go back."""

    def __init__(self, message: str = "cancelled before any text arrived", hint: str | None = None) -> None:
        super().__init__(message, hint)
