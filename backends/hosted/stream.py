"""What the ``openai`` and ``hf`` backends share when reading an answer: the loop over server-sent
JSON events, the error payload check, and the mapping from log-probabilities to TokenChoices."""

from __future__ import annotations

import json
import math
import threading
from typing import Any, Callable, Iterator

from ..errors import BackendError
from ..reply import TokenChoice
from . import sse
from .httpclient import HttpClient
from .httperrors import WINDOW_CHAT_HINT, WINDOW_HINT, StreamBroken, over_window


def json_events(client: HttpClient, response: Any, cancel: threading.Event | None,
                is_last: Callable[[Any], bool]) -> Iterator[Any]:
    """The JSON payload of each event until ``[DONE]``; an error payload or a stream cut before
    ``is_last`` said the answer was complete raises a BackendError."""
    complete = False
    for data in sse.iter_data(client.lines(response, cancel)):
        if data.strip() == "[DONE]":
            return
        try:
            payload = json.loads(data)
        except ValueError:
            raise client.malformed(data) from None
        raise_if_error(client, payload, midway=True)
        yield payload
        complete = complete or is_last(payload)
    if not complete:
        raise client.dropped()  # the stream ended without saying so: the connection was cut


def raise_if_error(client: HttpClient, payload: Any, midway: bool = False) -> None:
    """A server that reports a failure inside a 200 answer (``{"error": ...}``) fails the reply."""
    if isinstance(payload, dict) and payload.get("error"):
        error = payload["error"]
        said = client.context.clean(error.get("message", json.dumps(error)) if isinstance(error, dict) else str(error))
        who = client.context.label
        whole = (BackendError(f"the conversation does not fit the window of {client.context.model} at {who}: {said}",
                              WINDOW_HINT, WINDOW_CHAT_HINT) if over_window(said)
                 else BackendError(f"{who} reported an error: {said}"))
        if midway:  # said as "text kept" only where some text had come (see StreamBroken)
            raise StreamBroken(f"{who} reported an error in the middle of the answer: {said}", whole)
        raise whole


def token_choice(text: Any, logprob: Any, top: list[tuple[Any, Any]], token_id: Any = -1) -> TokenChoice:
    """One token from a server's log-probabilities (natural logs, as OpenAI and TGI both send)."""
    return TokenChoice(int(token_id), str(text), math.exp(logprob),
                       [(str(t), math.exp(lp)) for t, lp in top])


def openai_token_choices(logprobs: Any) -> list[TokenChoice]:
    """OpenAI ``logprobs.content`` as TokenChoices (the API gives no ids: -1); [] if unreadable."""
    try:
        return [token_choice(entry["token"], entry["logprob"],
                             [(t["token"], t["logprob"]) for t in entry.get("top_logprobs") or []])
                for entry in (logprobs or {}).get("content") or []]
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        return []  # probabilities are a bonus; a server that garbles them still answers


def tgi_token_choice(event: dict[str, Any]) -> TokenChoice | None:
    """TGI's ``token`` and ``top_tokens`` of one streamed event as a TokenChoice; None if absent."""
    token = event.get("token") or {}
    try:
        if token.get("logprob") is None:
            return None
        return token_choice(token.get("text", ""), token["logprob"],
                            [(t.get("text", ""), t.get("logprob", -math.inf)) for t in event.get("top_tokens") or []],
                            token.get("id", -1))
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None


def usage_counts(payload: dict[str, Any]) -> tuple[int | None, int | None]:
    """(prompt, completion) tokens from ``usage``, or llama.cpp's ``timings`` when there is no usage."""
    usage = payload.get("usage")
    if isinstance(usage, dict):
        return _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
    timings = payload.get("timings")
    if isinstance(timings, dict) and "prompt_n" in timings:
        # llama.cpp counts the prompt tokens it had cached apart from those it evaluated.
        prompt = (_int(timings.get("prompt_n")) or 0) + (_int(timings.get("cache_n")) or 0)
        return prompt, _int(timings.get("predicted_n"))
    return None, None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
