"""Saying, in every mode, when a prompt did not fit the model's context window."""

from __future__ import annotations

from typing import Any


def truncation_notice(stats: Any) -> str | None:
    """One line on what was left out of the prompt, or None when all of it was sent."""
    messages = getattr(stats, "dropped_messages", 0) or 0
    tokens = getattr(stats, "dropped_tokens", 0) or 0
    if not messages and not tokens:
        return None
    parts = []
    if messages:
        parts.append(f"the {messages} oldest message(s) were left out")
    if tokens:
        parts.append(f"{tokens} token(s) were cut from the beginning of the prompt")
    return ("the conversation is longer than the model's context window: " + " and ".join(parts)
            + " (/new starts afresh; a shorter prompt or /system fits)")
