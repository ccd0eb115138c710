"""HTTP failures as one line that says what to do, and how long a busy server asks us to wait.

Each message names the server and, where it is known, the status code; the hint names the fix
(``/login`` for a refused token, other models for a 404, ...). Messages from the server itself are
cut to one short line and scrubbed of the token before they are shown.
"""

from __future__ import annotations

import contextvars
import email.utils
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..credentials import Secret, redact
from ..errors import BackendError
from ..one_line import one_line

PARTIAL_HINT = "the text received so far is kept; ask again to retry"
RETRY_STATUSES = (429, 503)
UNDER_V1 = "OpenAI-compatible servers answer under /v1"
# How servers say a prompt is over the model's window: vLLM ("maximum context length"), llama.cpp ("exceeds
# the available context size"), TGI ("must be <= 4096"), `transformers serve` ("`max_length` is set to"),
# others ("too long").
_OVER_WINDOW = re.compile(r"context (length|size|window)|max_(model_)?len|too long|must be <=|exceeds? the", re.I)
# How servers say a model is not theirs: vLLM ("does not exist"), `transformers serve` ("is pinned to").
_NOT_SERVED = re.compile(r"does not exist|not found|not served|pinned to|unknown model|no such model", re.I)
WINDOW_HINT = "shorten the prompt or lower --max-tokens"
WINDOW_CHAT_HINT = "start a shorter conversation with /new, or lower /max"


@dataclass(frozen=True)
class ErrorContext:
    """What an error message needs to know about the backend that failed. Frozen: a backend that
    learns more (the model it got, the key of this request) hands its client a new one."""

    label: str  # "the Hugging Face router" or the server's base URL
    model: str
    token_hint: str  # how to fix a refused token
    not_found_hint: str  # what to do when the model is not served and no list is available
    token_chat_hint: str | None = None  # the same fix as a slash-command, shown inside the chat
    address_hint: str = "check the address"  # how to give the server another address
    address_chat_hint: str | None = None
    payment_hint: str = "check the account behind the key, or use a local model (/backend local)"
    not_found_chat_hint: str | None = None  # not_found_hint said with a slash-command
    list_models: Callable[[], list[str]] | None = None
    secrets: tuple[Secret | None, ...] = ()

    def clean(self, text: str, limit: int = 200) -> str:
        """A server's message made safe to show: one line, short, without the token."""
        return one_line(redact(text, *self.secrets), limit)


def server_message(body: bytes | str) -> str:
    """The human part of an error body: ``{"error": ...}``, ``{"error": {"message": ...}}``, ``{"detail": ...}``."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except ValueError:
        return re.sub(r"<[^>]+>", " ", text).strip()  # an HTML error page: keep its words only
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("msg") or json.dumps(value)
            if isinstance(value, list):
                value = "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
            if value:
                return str(value)
    return text.strip()


@dataclass(frozen=True)
class HttpFailure:
    """What a server answered to a request it refused: the status, the address asked, its own words."""

    status: int
    url: str
    said: str = ""  # the server's message, cleaned of the token


class StreamBroken(BackendError):
    """An answer that broke off once the server had begun it. Said with "the text received so far is
    kept" where text had arrived; ``without_text`` says it for an answer that had shown nothing yet."""

    def __init__(self, message: str, without_text: BackendError) -> None:
        super().__init__(message, PARTIAL_HINT)
        self.without_text = without_text


def over_window(said: str) -> bool:
    """Whether a server's message says the prompt does not fit the model's window."""
    return bool(_OVER_WINDOW.search(said))


class HttpStatusError(BackendError):
    """A failure the server reported with an HTTP status; ``failure`` says what was asked and answered."""

    def __init__(self, message: str, hint: str | None, failure: HttpFailure, chat_hint: str | None = None) -> None:
        super().__init__(message, hint, chat_hint)
        self.failure = failure


def status_error(status: int, body: bytes, ctx: ErrorContext, *, url: str = "", tries: int = 1) -> HttpStatusError:
    """The error for an HTTP status the request to ``url`` could not get past."""
    error = _status_error(status, body, ctx, url, tries)
    return HttpStatusError(error.message, error.hint, HttpFailure(status, url, ctx.clean(server_message(body), 1000)),
                           error.chat_hint)


def _status_error(status: int, body: bytes, ctx: ErrorContext, url: str, tries: int) -> BackendError:
    said = ctx.clean(server_message(body))
    detail = f": {said}" if said else ""
    who, model = ctx.label, ctx.model
    if status == 401:
        return BackendError(f"{who} refused the token (401){detail}", ctx.token_hint, ctx.token_chat_hint)
    if status == 402:
        return BackendError(f"{who} asks for payment (402): the credits are used up{detail}", ctx.payment_hint)
    if status == 403:
        return BackendError(f"{who} does not allow this token to use {model} (403){detail}",
                            "give the token the 'Make calls to Inference Providers' permission, or accept the "
                            "model's licence on its page")
    if status == 404:
        return _not_found(ctx, url, detail)
    if status == 429:
        return BackendError(f"{who} is rate limiting requests (429) after {tries} tries{detail}",
                            "wait a minute and ask again, or use a local model (/backend local)")
    if status in (400, 413, 422):
        if said and over_window(said):
            return BackendError(f"the conversation does not fit the window of {model} at {who} ({status}){detail}",
                                WINDOW_HINT, WINDOW_CHAT_HINT)
        if said and _NOT_SERVED.search(said) and ("model" in said.lower() or model in said):
            return _not_found(ctx, url, detail, status)
        return BackendError(f"{who} rejected the request ({status}){detail}",
                            "check the flags (--temperature, --max-tokens, ...) and the model name (-m)",
                            "check /settings and the model name (/model)")
    if status >= 500:
        again = f" after {tries} tries" if tries > 1 else ""
        return BackendError(f"{who} failed with {status}{again}{detail}",
                            "the server has a problem; try again later or pick another model")
    return BackendError(f"{who} answered {status}{detail}", "check the base URL and the model name")


def _not_found(ctx: ErrorContext, url: str, detail: str, status: int = 404) -> BackendError:
    """A 404 blames the model when the server's model list works; when the list is missing too and the
    base URL lacks the API version (``/v1``), it blames the path."""
    listing = url.endswith("/models")
    base = url.removesuffix("/models") if listing else ctx.label
    versioned = re.search(r"/v\d+$", base.rstrip("/")) is not None
    names = None if listing else _listed(ctx)
    if names is None and not versioned:
        asked = url if listing else f"{url or ctx.label} and {ctx.label}/models"
        return BackendError(f"{asked} answered 404{detail}: the path of the base URL {base} is likely wrong",
                            f"{UNDER_V1}; {ctx.address_hint}",
                            f"{UNDER_V1}; {ctx.address_chat_hint}" if ctx.address_chat_hint else None)
    if listing:
        return BackendError(f"{url} answered 404{detail}: the server does not list its models",
                            "name one with --model MODEL", "name one with `/model MODEL`")
    message = f"{ctx.model} is not served by {ctx.label} ({status}){detail}"
    if names is None:
        return BackendError(message, f"{ctx.label}/models answered 404 too, so the path of the base URL may be "
                                     f"wrong; {ctx.not_found_hint}")
    if not names:
        return BackendError(message, ctx.not_found_hint, ctx.not_found_chat_hint)
    import difflib

    close = difflib.get_close_matches(ctx.model, names, n=5, cutoff=0.3)
    picks = close or names[:5]
    more = f" ({len(names)} in all)" if len(names) > len(picks) else ""
    served = f"models served there include: {', '.join(picks)}{more}"
    return BackendError(message, f"{served}; pick one with -m MODEL", f"{served}; pick one with `/model MODEL`")


_listing = contextvars.ContextVar("listing_models", default=False)  # a 404 from the listing must not recurse


def _listed(ctx: ErrorContext) -> list[str] | None:
    """The models the server lists; None when the list answers 404 too (the address is wrong, not the model)."""
    if ctx.list_models is None or _listing.get():
        return []
    guard = _listing.set(True)
    try:
        return ctx.list_models()
    except HttpStatusError as error:
        return None if error.failure.status == 404 else []
    except BackendError:
        return []
    finally:
        _listing.reset(guard)


def requested_wait(headers: Any, body: bytes) -> float | None:
    """Seconds the server asks us to wait: Retry-After, RateLimit's ``t=``, or 503's ``estimated_time``."""
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    limit = headers.get("RateLimit") or headers.get("RateLimit-Reset")
    if limit:
        match = re.search(r"(?:^|[;,\s])t=(\d+(?:\.\d+)?)", limit) or re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", limit)
        if match:
            return float(match.group(1))
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("estimated_time"), (int, float)):
        return float(data["estimated_time"])
    return None
