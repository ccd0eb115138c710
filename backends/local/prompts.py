"""How a conversation becomes what a model reads: the system prompt put in place and the chat template
applied, or, for a completion model, the raw text it continues; and the oldest turns left out when it
does not fit the window. ``completion_text`` and ``with_system`` are shared by the hosted backends."""

from __future__ import annotations

from typing import Any

from ..base import Message
from ..settings import GenerationSettings


def completion_text(messages: list[Message]) -> str:
    """The raw text a completion model continues: the last prompt, plus the reply being continued."""
    start = max((i for i, m in enumerate(messages) if m.role == "user"), default=0)
    return "".join(m.content for m in messages[start:] if m.role != "system")


def with_system(messages: list[Message], system: str | None) -> list[Message]:
    """A copy of ``messages`` in which the settings' system prompt, if any, replaces the first one."""
    messages = list(messages)
    if system is None:
        return messages
    if messages and messages[0].role == "system":
        messages[0] = Message("system", system)
    else:
        messages.insert(0, Message("system", system))
    return messages


def fit_prompt(tokenizer: Any, is_chat: bool, messages: list[Message], settings: GenerationSettings,
               window: int) -> tuple[list[int], int, int]:
    """Token ids of the prompt, trimmed to fit ``window``: (ids, dropped messages, dropped tokens).

    The oldest turns go first (the system prompt stays); if the last message alone is still too long,
    its beginning is cut. Room is left for the reply, but a huge max_new_tokens never squeezes the
    prompt to nothing.
    """
    budget = window - min(settings.max_new_tokens, window // 2)
    if not is_chat:
        ids = tokenizer(completion_text(messages), add_special_tokens=False).input_ids
        return (ids[-budget:], 0, max(0, len(ids) - budget))
    messages = with_system(messages, settings.system)
    dropped = 0
    while True:
        ids = chat_ids(tokenizer, messages)
        droppable = [i for i, m in enumerate(messages[:-1]) if m.role != "system"]
        if len(ids) <= budget or not droppable:
            break
        del messages[droppable[0]]
        dropped += 1
    if len(ids) > budget:
        return ids[-budget:], dropped, len(ids) - budget
    return ids, dropped, 0


def chat_ids(tokenizer: Any, messages: list[Message]) -> list[int]:
    """The conversation through the model's chat template, as ids."""
    # A conversation ending in an assistant turn is a /continue: extend that turn, don't open one.
    continuing = messages[-1].role == "assistant"
    text = tokenizer.apply_chat_template([m.to_dict() for m in messages], tokenize=False,
                                         add_generation_prompt=not continuing, continue_final_message=continuing)
    return tokenizer(text, add_special_tokens=False).input_ids
