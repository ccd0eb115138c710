"""The HTTP layer under the hosted backends: timeouts, bounded retries, cancellation, token safety.

- Every request has a connect and a read timeout (requests has none by default).
- 429 and 503 are retried a few times, waiting what the server asks (Retry-After, RateLimit,
  ``estimated_time``) up to a cap; a cancel interrupts the wait.
- Cancelling closes the socket from the cancelling side, so a stalled read ends at once instead of
  at the next chunk or the read timeout.
- The token is attached only to requests for the origin it was given for, and stripped from any
  redirect that leaves that origin (stricter than requests, which keeps it on an http->https hop).
"""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import requests
import urllib3.exceptions

from ..credentials import Secret, origin, redact
from ..errors import BackendError, Cancelled, UsageError
from .httperrors import RETRY_STATUSES, ErrorContext, StreamBroken, requested_wait, status_error

CANCEL_POLL = 0.05  # seconds; how quickly a cancel is noticed while a request or read is blocked


def check_base_url(text: str) -> str:
    """A server address, refused unless it is a well-formed http(s) URL with a host (e.g. not 'http://[::1')."""
    from urllib.parse import urlsplit

    hint = "use e.g. --base-url http://127.0.0.1:8000/v1"
    try:
        parts = urlsplit(text.strip())
        port = parts.port  # reading it checks it: 'http://h:x' or a port past 65535 is refused here
    except ValueError as error:
        raise UsageError(f"{text} is not a valid http(s) URL: {str(error).lower()}", hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{text} is not a valid http(s) URL", hint)
    if any(c.isspace() or ord(c) < 32 for c in text.strip()) or port == 0:
        raise UsageError(f"{text} is not a valid http(s) URL", hint)
    return text.strip()


@dataclass(frozen=True)
class HttpOptions:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # hosted models can think a while before the first token
    retries: int = 3  # extra tries after a 429/503
    max_wait: float = 30.0  # longest single wait between tries, whatever the server asks
    backoff: float = 1.0  # first wait when the server names none; doubles each try


class BearerAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer`` only for the one origin the token belongs to."""

    def __init__(self, secret: Secret, allowed_origin: str) -> None:
        self.secret = secret
        self.allowed_origin = allowed_origin

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(request.url or "") == self.allowed_origin:
            value = self.secret.reveal()
            if not (value.isascii() and value.isprintable()):  # http.client would fail with the token in a traceback
                raise BackendError("the token has characters an HTTP header cannot carry",
                                   "check HF_TOKEN or run `parrot login` again", "check HF_TOKEN or run /login again")
            request.headers["Authorization"] = f"Bearer {value}"
        return request

    def __repr__(self) -> str:
        return f"BearerAuth(***, {self.allowed_origin!r})"


class GuardedSession(requests.Session):
    """A Session whose redirects never carry the token to another origin (scheme, host and port)."""

    allowed_origin: str | None = None

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if origin(prepared_request.url or "") != self.allowed_origin:
            prepared_request.headers.pop("Authorization", None)


class HttpClient:
    """One server: sends JSON, retries when it is busy, streams lines, maps failures to BackendError."""

    def __init__(self, options: HttpOptions, context: ErrorContext,
                 notify: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.context = context
        self.notify = notify or (lambda message: None)
        self.session = GuardedSession()

    def pool(self, size: int) -> None:
        """Keep up to ``size`` connections to the server, for that many requests in flight at once
        (requests keeps 10 and drops the rest, with a warning each time)."""
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(size, 10))
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, adapter)

    # -- requests --------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, secret: Secret | None, body: Any = None,
                stream: bool = False, cancel: threading.Event | None = None) -> requests.Response:
        """Send one request, retrying on 429/503; return a 2xx response or raise BackendError/Cancelled."""
        self.session.allowed_origin = origin(url) if secret is not None else None
        auth = BearerAuth(secret, origin(url)) if secret is not None else None
        tries = self.options.retries + 1
        for attempt in range(1, tries + 1):
            response = self._send(method, url, auth, body, stream, cancel)
            if response.status_code < 400:
                return response
            # Scrubbed at once: a server that echoes the token must not leave it in a local variable
            # that a traceback with locals would print.
            content = redact(_read_error_body(response).decode("utf-8", errors="replace"), secret).encode()
            if response.status_code in RETRY_STATUSES and attempt < tries:
                asked = requested_wait(response.headers, content)
                wait = min(self.options.max_wait, asked if asked is not None else self.options.backoff * 2 ** (attempt - 1))
                self.notify(f"{self.context.label} is busy ({response.status_code}); "
                            f"trying again in {wait:.3g} s ({attempt + 1} of {tries})")
                if (cancel or threading.Event()).wait(wait):  # True only when cancelled
                    raise Cancelled
                continue
            raise status_error(response.status_code, content, self.context, url=url, tries=attempt)
        raise AssertionError("unreachable")

    def get_json(self, url: str, *, secret: Secret | None) -> Any:
        """GET and decode JSON (used to list a server's models)."""
        response = self.request("GET", url, secret=secret)
        return self.json(response)

    def json(self, response: requests.Response) -> Any:
        """A whole (non-streamed) body as JSON, scrubbed of the token; malformed bodies are one-line errors."""
        try:
            text = self._scrub(response.content).decode("utf-8", errors="replace")
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
            raise self.dropped().without_text from None  # a whole body: nothing of it was shown
        try:
            return json.loads(text)
        except ValueError:
            raise self.malformed(text[:80]) from None

    def malformed(self, sample: str) -> BackendError:
        """The error for a body that is not the JSON the API promises."""
        return BackendError(f"{self.context.label} sent something that is not JSON: {self.context.clean(sample, 80)!r}",
                            "check that the base URL points to an OpenAI-compatible API (it usually ends in /v1)")

    def _send(self, method: str, url: str, auth: BearerAuth | None, body: Any, stream: bool,
              cancel: threading.Event | None) -> requests.Response:
        # The request runs in a helper thread so that a cancel can abandon a server that has not
        # answered yet; the late response is closed as soon as it arrives.
        timeout = (self.options.connect_timeout, self.options.read_timeout)

        def send() -> requests.Response:
            return self.session.request(method, url, json=body, auth=auth, stream=stream, timeout=timeout,
                                        headers={"Accept": "text/event-stream" if stream else "application/json"})

        if cancel is None:
            return self._guard(send)
        future: Future = Future()

        def work() -> None:
            try:
                future.set_result(self._guard(send))
            except BaseException as error:  # handed to the waiting thread
                future.set_exception(error)

        threading.Thread(target=work, name="parrot-http", daemon=True).start()
        while True:
            try:
                return future.result(timeout=CANCEL_POLL)
            except FutureTimeout:
                if cancel.is_set():
                    future.add_done_callback(_close_late_response)
                    raise Cancelled from None

    def _guard(self, send: Callable[[], requests.Response]) -> requests.Response:
        """Turn requests' connection failures into one line each."""
        who, opts = self.context.label, self.options
        try:
            return send()
        except requests.exceptions.ConnectTimeout:
            raise BackendError(f"could not connect to {who} within {opts.connect_timeout:g} s",
                               "check the address and your network") from None
        except requests.exceptions.ReadTimeout:
            raise BackendError(f"{who} did not answer within {opts.read_timeout:g} s",
                               "the server may be overloaded or loading the model; try again") from None
        except requests.exceptions.SSLError:
            raise BackendError(f"a secure (TLS) connection to {who} failed",
                               "check the https address and the system certificates") from None
        except requests.exceptions.TooManyRedirects:
            raise BackendError(f"{who} redirects in a loop", "check the base URL") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema):
            raise UsageError(f"{who} is not a valid http(s) URL", "use e.g. --base-url http://127.0.0.1:8000/v1",
                             "use e.g. `/backend openai http://127.0.0.1:8000/v1`") from None
        except requests.exceptions.ConnectionError as error:
            if _caused_by(error, ConnectionRefusedError):
                chat = self.context.address_chat_hint
                raise BackendError(f"nothing is listening at {who} (connection refused)",
                                   f"start the server, or {self.context.address_hint}",
                                   f"start the server, or {chat}" if chat else None) from None
            if _caused_by(error, urllib3.exceptions.NameResolutionError, socket.gaierror):
                raise BackendError(f"the host of {who} is unknown (name lookup failed)",
                                   "check the address and your network") from None
            raise BackendError(f"could not talk to {who}: the connection failed",
                               "check the address and your network, then try again") from None

    # -- streaming -------------------------------------------------------------------------------

    def lines(self, response: requests.Response, cancel: threading.Event | None) -> Iterator[bytes]:
        """The body's lines as they arrive; a cancel closes the socket at once and raises Cancelled."""
        watch = _CancelWatch(cancel, response)
        try:
            pending = b""
            cancelled = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)
            for chunk in _chunks(response):
                pending += chunk
                del chunk  # only scrubbed lines may outlive this step (see _scrub)
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    if cancelled():
                        break  # text already on its way is dropped: nothing after the cancel is shown
                    yield self._scrub(line)
                if cancelled():
                    break
            if pending and not cancelled():
                yield self._scrub(pending)
        except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError, ValueError,
                AttributeError) as error:
            # AttributeError/ValueError: reading a response that the cancel path just closed.
            if cancel is not None and cancel.is_set():
                raise Cancelled from None
            if _caused_by(error, urllib3.exceptions.ReadTimeoutError, TimeoutError, socket.timeout):
                raise StreamBroken(f"{self.context.label} stopped sending for {self.options.read_timeout:g} s "
                                   "in the middle of the answer", self._silent()) from None
            raise self.dropped() from None
        finally:
            watch.stop()
            response.close()
        if cancel is not None and cancel.is_set():
            raise Cancelled

    def _scrub(self, line: bytes) -> bytes:
        # A server that echoes the token must not leave it in the caller's local variables, where a
        # traceback that shows locals (Rich, Textual) would print it.
        for secret in self.context.secrets:
            if secret is not None and secret.reveal():
                line = line.replace(secret.reveal().encode(), b"***")
        return line

    def dropped(self) -> StreamBroken:
        """The error for a stream that ended before the server said it was done."""
        who = self.context.label
        # Before any text, a dropped answer is most often the server failing on this request (a prompt over
        # `transformers serve`'s window ends so): its log knows why, and nothing was kept.
        return StreamBroken(f"the connection to {who} closed in the middle of the answer", BackendError(
            f"{who} closed the connection before answering",
            "the server failed on this request and its log says why; a prompt longer than the model's window "
            "is a common cause: shorten it",
            "the server failed on this request and its log says why; a conversation longer than the model's "
            "window is a common cause: /new starts a shorter one"))

    def _silent(self) -> BackendError:
        return BackendError(f"{self.context.label} did not answer within {self.options.read_timeout:g} s",
                            "the server may be overloaded or loading the model; try again")


class _CancelWatch:
    """Closes a streaming response from its own thread the moment ``cancel`` is set."""

    def __init__(self, cancel: threading.Event | None, response: requests.Response) -> None:
        self.cancel, self.response = cancel, response
        self.done = threading.Event()
        if cancel is not None:
            threading.Thread(target=self._watch, name="parrot-cancel", daemon=True).start()

    def _watch(self) -> None:
        while not self.done.wait(CANCEL_POLL):
            if self.cancel is not None and self.cancel.is_set():
                abort(self.response)
                return

    def stop(self) -> None:
        self.done.set()


def abort(response: requests.Response) -> None:
    """Shut the socket down (which wakes a read blocked in another thread), then close."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response.close()


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """Bytes as they arrive. ``iter_content`` would wait for a full buffer on a non-chunked stream."""
    raw = response.raw
    if raw.chunked:
        yield from raw.stream(None, decode_content=True)
        return
    while data := raw.read1(65536):
        yield data


def _read_error_body(response: requests.Response) -> bytes:
    try:
        return response.content or b""
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError):
        return b""
    finally:
        response.close()


def _close_late_response(future: Future) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _caused_by(error: BaseException, *kinds: type[BaseException]) -> bool:
    """Whether ``error`` or anything in its chain of causes and arguments is one of ``kinds``."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kinds):
            return True
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return False
