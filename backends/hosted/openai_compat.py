"""The ``openai`` backend: any server that speaks the OpenAI chat-completions API.

vLLM, TGI, llama.cpp's server, ``transformers serve`` and ollama all do, and so does the Hugging
Face router (the ``hf`` backend in ``hf.py`` builds on this class). Replies stream over server-sent
events; log-probabilities are requested so that ``/probs`` works, and dropped (with a note) for a
server that refuses them. Whether the server samples when asked to is checked, not assumed
(``sampling_check``): until it is seen, the temperature is unverified.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any, Callable, Iterator

import requests

from ..base import BackendInfo, Message
from ..credentials import Found, Secret, find_server_key
from ..errors import BackendError
from ..local.prompts import with_system
from ..reply import Event, Finish, GenerationStats, Ignored, Reply, Started, Text, Token, TokenChoice, Usage
from ..settings import GenerationSettings
from .httpclient import HttpClient, HttpOptions
from .httperrors import ErrorContext, HttpStatusError, StreamBroken
from .ignored_settings import echoed_values, ignored_settings, took_a_runner_up
from .sampling_check import IGNORED, PROMPT, VERIFIED, SamplingCheck
from .stream import json_events, openai_token_choices, raise_if_error, usage_counts

OnNote = Callable[[str], None]
DEFAULT_BASE_URL = "http://localhost:8000/v1"  # where vLLM and `transformers serve` listen by default
TOP_LOGPROBS = 5
# Settings the OpenAI chat API has no field for; the server's own values apply.
UNSUPPORTED_IN_CHAT_API = ("top_k", "repetition_penalty")
# Fields parrot asks for that not every server knows; a server that names one in a refusal is asked again without.
OPTIONAL_FIELDS = ("logprobs", "stream_options", "include_usage")


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server, with an optional key for that server only."""

    name = "openai"
    mode = "chat"  # a chat-completions endpoint applies the chat template itself

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | Secret | None = None, *,
                 stream: bool = True, options: HttpOptions | None = None, on_note: OnNote | None = None) -> None:
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if isinstance(api_key, str):
            api_key = Secret(api_key)
        self._given_key = Found(api_key, "the key given for this server") if api_key else None
        self.streaming = stream
        self.on_note = on_note  # told, a line each, what the person should know: a retry, an ignored setting
        self._noted: set[str] = set()
        self._refused_extras = False  # set once the server rejects logprobs / stream_options
        self.ignored: dict[str, str] = {}  # settings this server's answers showed it ignores, with the evidence
        self._untold: list[str] = []  # of those, the ones no reply has said yet
        self._told_lock = threading.Lock()  # replies side by side (an evaluation) and the check share them
        self.sampling = SamplingCheck(self._probe, lambda evidence: self._learn("temperature", evidence))
        self.client = HttpClient(options or HttpOptions(), self._error_context(),
                                 lambda message: self.note(message, once=False))

    def prepare_concurrency(self, requests: int) -> None:
        """Let ``requests`` requests be in flight at once (an evaluation sends many side by side)."""
        self.client.pool(requests)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    # -- facts -----------------------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        return self.base_url

    def describe(self) -> BackendInfo:
        """Backend, model and base URL for the status bar and /settings; never the key. What the server was
        seen to do with the settings it was sent is said too: the status bar claims a sampling temperature
        only once ``sampling`` is verified, and never one it ``ignores``."""
        return BackendInfo(self.name, self.model or "(the server's first model)", mode=self.mode,
                           base_url=self.public_url, ignores=tuple(self.ignored), sampling=self.sampling.describe())

    def note(self, message: str, once: bool = True) -> None:
        """Tell the person something (an ignored setting, a retry), once unless ``once`` is False."""
        if once and message in self._noted:
            return
        self._noted.add(message)
        if self.on_note is not None:
            self.on_note(message)

    def key(self) -> Found | None:
        """The key for this server: one given with it, else one stored for its origin. Looked up per
        request, so a /login takes effect without rebuilding the backend."""
        return self._given_key or find_server_key(self.base_url)

    def _error_context(self) -> ErrorContext:
        return ErrorContext(
            label=self.base_url, model=self.model or "the model",
            token_hint=f"check the key; store one for this server with `parrot login --base-url {self.base_url}`",
            token_chat_hint=f"check the key; store one for this server with `/login --base-url {self.base_url}`",
            not_found_hint=f"check the model name (-m MODEL); GET {self.base_url}/models lists what the server has",
            not_found_chat_hint=f"check the model name (`/model MODEL`); GET {self.base_url}/models lists what "
                                "the server has",
            address_hint="fix the address with --base-url",
            address_chat_hint="fix the address with `/backend openai URL`",
            list_models=self.list_models)

    def list_models(self) -> list[str]:
        """Model ids the server says it serves (GET /models); empty if it does not say."""
        found = self.key()
        data = self.client.get_json(f"{self.base_url}/models", secret=found.secret if found else None)
        items = data.get("data", []) if isinstance(data, dict) else data if isinstance(data, list) else []
        return [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]

    # -- requests --------------------------------------------------------------------------------

    def chat_body(self, messages: list[Message], settings: GenerationSettings, model: str) -> dict[str, Any]:
        """The request body for ``settings``; settings the API cannot carry are named in a note."""
        body: dict[str, Any] = {
            "model": model, "messages": [m.to_dict() for m in with_system(messages, settings.system)],
            "stream": self.streaming, "max_tokens": settings.max_new_tokens,
        }
        if settings.is_greedy:
            body["temperature"] = 0.0  # the API's greedy; top_p would be meaningless
        else:
            body["temperature"], body["top_p"] = settings.temperature, settings.top_p
        if settings.seed is not None:
            body["seed"] = settings.seed
        if settings.stop:
            body["stop"] = list(settings.stop)
        if not self._refused_extras:
            body["logprobs"], body["top_logprobs"] = True, TOP_LOGPROBS
            if self.streaming:
                body["stream_options"] = {"include_usage": True}
        if messages and messages[-1].role == "assistant":
            # llama.cpp treats a final assistant message as the start of the reply; others may answer anew.
            self.note(f"continuing a reply depends on the server: {self.base_url} may start a new one instead")
        defaults, asked = GenerationSettings().for_mode("chat"), settings.for_mode("chat")
        changed = [n for n in UNSUPPORTED_IN_CHAT_API
                   if getattr(asked, n) != getattr(defaults, n) and not (settings.is_greedy and n == "top_k")]
        if changed:
            self.note(f"{' and '.join(f'{n}={getattr(asked, n)}' for n in changed)}: the OpenAI chat API has "
                      f"no such setting, so {self.base_url} uses its own")
        return body

    def stream(self, messages: list[Message], settings: GenerationSettings,
               cancel: threading.Event | None = None) -> Reply:
        """Start a reply; nothing is sent until the Reply is first iterated."""
        stats = GenerationStats(backend=self.name, model=self.model or "", seed=settings.seed)
        return Reply(self._generate(messages, settings, cancel), stats, cancel)

    def _generate(self, messages: list[Message], settings: GenerationSettings,
                  cancel: threading.Event | None) -> Iterator[Event]:
        if not self.model:
            self.model = self._first_model()
            self.client.context = replace(self.client.context, model=self.model)
            yield Started(model=self.model)
        yield from self._tell()  # what a check that ended after the last reply found
        response, body = self._post_chat(messages, settings, cancel)
        yield from self._read_reply(response, cancel, body)

    def _learn(self, name: str, evidence: str) -> None:
        """A setting the server was seen to ignore; the next reply says it (from any thread)."""
        with self._told_lock:
            if name not in self.ignored:
                self.ignored[name] = evidence
                self._untold.append(name)

    def _tell(self) -> Iterator[Event]:
        with self._told_lock:
            names, self._untold = self._untold, []
        for name in names:
            yield Ignored(name, f"{self.base_url} ignores {name}: {self.ignored[name]}; its own decoding applies")

    def _probe(self, settings: GenerationSettings) -> str:
        """One request of the sampling check: its whole text."""
        response, body = self._post_chat([Message("user", PROMPT)], settings, None)
        return "".join(e.text for e in self._read_reply(response, None, body, probing=True) if isinstance(e, Text))

    def _post_chat(self, messages: list[Message], settings: GenerationSettings,
                   cancel: threading.Event | None) -> tuple[requests.Response, dict[str, Any]]:
        found = self.key()
        self.client.context = replace(self.client.context, secrets=(found.secret if found else None,))
        url = f"{self.base_url}/chat/completions"
        body = self.chat_body(messages, settings, self.model or "")
        try:
            return self.client.request("POST", url, secret=found.secret if found else None, body=body,
                                       stream=self.streaming, cancel=cancel), body
        except BackendError as error:
            # Some servers reject fields they do not know; ask once more without the optional ones.
            said = error.failure.said if isinstance(error, HttpStatusError) else ""
            if self._refused_extras or not any(name in said for name in OPTIONAL_FIELDS):
                raise
            self._refused_extras = True
            self.note(f"{self.base_url} refused log-probabilities or usage counts; answering without them "
                      "(/probs is not available for this server)")
            body = self.chat_body(messages, settings, self.model or "")
            return self.client.request("POST", url, secret=found.secret if found else None, body=body,
                                       stream=self.streaming, cancel=cancel), body

    def _first_model(self) -> str:
        names = self.list_models()
        if not names:
            raise BackendError(f"{self.base_url} lists no models, and none was named", "name one with --model MODEL",
                               "name one with `/model MODEL`")
        return names[0]

    # -- replies ---------------------------------------------------------------------------------

    def _read_reply(self, response: requests.Response, cancel: threading.Event | None,
                    body: dict[str, Any], probing: bool = False) -> Iterator[Event]:
        tokens: list[TokenChoice] = []
        echoed: dict[str, Any] = {}
        texts = 0
        # A sampled reply (not the check's own) that carries no probabilities starts the check at once.
        sampled = (body.get("temperature") or 0) > 0 and not probing

        def read(chunk: Any, message_key: str) -> Iterator[Event]:
            nonlocal texts
            echoed.update(echoed_values(chunk))
            for event in self._read_chunk(chunk, message_key):
                if isinstance(event, Token):
                    tokens.append(event.choice)
                elif isinstance(event, Text) and event.text:
                    texts += 1
                    if texts == 1 and sampled and not tokens:
                        self.sampling.start()
                yield event

        try:
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                # A non-streaming answer (asked for, or a server that ignores "stream": true).
                data = self.client.json(response)
                raise_if_error(self.client, data)
                yield from read(data, "message")
            else:
                for chunk in json_events(self.client, response, cancel, is_last=_has_finish):
                    yield from read(chunk, "delta")
        except StreamBroken as error:
            raise (error if texts else error.without_text) from None  # "text kept" only where text came
        # Judged on a whole answer only: a cancelled stream never gets here.
        found = ignored_settings(body, echoed, tokens)
        if "temperature" in found:
            self.sampling.record(IGNORED, found.pop("temperature"))
        elif sampled and took_a_runner_up(tokens):
            self.sampling.record(VERIFIED, "a reply took a token other than the most likely one")
        for name, evidence in found.items():
            self._learn(name, evidence)
        if sampled:
            self.sampling.start()  # where the probabilities could not decide
            yield from self._tell()

    def _read_chunk(self, chunk: Any, message_key: str) -> Iterator[Event]:
        """The events of one chunk (or of a whole answer): usage, token choices, text, the finish."""
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            raise self.client.malformed(json.dumps(chunk)[:80])
        prompt, completion = usage_counts(chunk)
        if prompt is not None or completion is not None:
            yield Usage(prompt, completion)
        for choice in choices:
            for token in openai_token_choices(choice.get("logprobs")):
                yield Token(token)
            yield Text((choice.get(message_key) or {}).get("content") or "")
            if reason := choice.get("finish_reason"):
                yield Finish("length" if reason == "length" else "stop")


def _has_finish(chunk: Any) -> bool:
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    return isinstance(choices, list) and any(isinstance(c, dict) and c.get("finish_reason") for c in choices)


def http_options(options: dict[str, Any]) -> HttpOptions:
    """HttpOptions from registry options: ``timeout`` (read), ``connect_timeout``, ``retries``, ``max_wait``."""
    names = {"timeout": "read_timeout", "connect_timeout": "connect_timeout", "retries": "retries",
             "max_wait": "max_wait", "backoff": "backoff"}
    return HttpOptions(**{field: options[key] for key, field in names.items() if options.get(key) is not None})


def create(model: str | None = None, *, base_url: str | None = None, api_key: str | Secret | None = None, stream: bool = True,
           note: OnNote | None = None, **options: Any) -> OpenAIBackend:
    """Registry factory; options the backend does not use (device, dtype, progress, ...) are ignored."""
    return OpenAIBackend(model, base_url, api_key, stream=stream, options=http_options(options), on_note=note)

