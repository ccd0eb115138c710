"""The ``hf`` backend: models hosted on Hugging Face, through the inference router.

Chat models go through the router's OpenAI-compatible API (``org/name`` or ``org/name:provider``).
Completion models (no chat template, like codeparrot) go through the ``hf-inference`` task endpoint,
which continues raw text with TGI's parameters. The token comes from ``credentials`` and is sent to
the router only.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any, Iterator
from urllib.parse import quote

from ..base import Message
from ..credentials import Found, find_hf_token
from ..errors import BackendError, NeedsToken
from ..loading.source import hub_completion_models
from ..local.prompts import completion_text
from ..local.stop_rule import StopRule
from ..reply import Event, Finish, Text, Token, Usage
from ..settings import GenerationSettings
from .httpclient import HttpOptions
from .httperrors import ErrorContext, StreamBroken
from .openai_compat import OnNote, OpenAIBackend, http_options
from .sampling_check import PROMPT
from .stream import json_events, raise_if_error, tgi_token_choice

ROUTER_URL = "https://router.huggingface.co"
DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-32B-Instruct"
# Presets that name completion models: they continue text, so they use the task endpoint.
COMPLETION_PRESETS = hub_completion_models()  # from the one table of presets
LOGIN_HINT = ("run /login (or `parrot login`) with a token from https://huggingface.co/settings/tokens, "
              "or set HF_TOKEN")


class HfBackend(OpenAIBackend):
    """The Hugging Face router: chat completions, or the hf-inference endpoint for completion models."""

    name = "hf"

    def __init__(self, model: str | None = None, *, router_url: str = ROUTER_URL, mode: str | None = None,
                 stream: bool = True, options: HttpOptions | None = None, on_note: OnNote | None = None) -> None:
        model = model or DEFAULT_MODEL
        if mode not in (None, "chat", "completion"):
            raise BackendError(f"unknown mode {mode!r} for the hf backend", "use chat or completion")
        self.mode = "completion" if mode == "completion" or model in COMPLETION_PRESETS else "chat"
        self.router_url = router_url.rstrip("/")
        super().__init__(COMPLETION_PRESETS.get(model, model), base_url=f"{self.router_url}/v1",
                         stream=stream, options=options, on_note=on_note)

    @property
    def public_url(self) -> str:
        return self.router_url  # the router, not its /v1 path: where a person would point a browser

    def key(self) -> Found:
        """The Hugging Face token, looked up per request; without one, say how to log in."""
        found = find_hf_token()
        if found is None:
            raise NeedsToken("the Hugging Face router needs an access token", LOGIN_HINT)
        return found

    def _error_context(self) -> ErrorContext:
        label = "the Hugging Face router"
        if self.router_url != ROUTER_URL:
            label += f" at {self.router_url}"
        if self.mode == "completion":
            not_found = ("hf-inference serves few text-generation models now; run it locally (/backend local) "
                         "or pick a chat model")
        else:
            not_found = ("pick a model an inference provider serves: "
                         "https://huggingface.co/models?inference_provider=all&pipeline_tag=text-generation")
        return ErrorContext(
            label=label, model=self.model or DEFAULT_MODEL, token_hint=LOGIN_HINT, not_found_hint=not_found,
            payment_hint="add credits or upgrade at https://huggingface.co/settings/billing, or use a local "
                         "model (/backend local)",
            list_models=self.list_models if self.mode == "chat" else None)

    # -- the task endpoint for completion models -------------------------------------------------

    def _generate(self, messages: list[Message], settings: GenerationSettings,
                  cancel: threading.Event | None) -> Iterator[Event]:
        if self.mode == "chat":
            yield from super()._generate(messages, settings, cancel)
            return
        yield from self._tell()
        yield from self._complete(completion_text(messages), settings, cancel, self.streaming)
        if not settings.is_greedy:
            self.sampling.start()  # the endpoint's answers carry no sign of how they were decoded
            yield from self._tell()

    def _probe(self, settings: GenerationSettings) -> str:
        """One request of the sampling check, on the endpoint this model uses."""
        if self.mode == "chat":
            return super()._probe(settings)
        return "".join(e.text for e in self._complete(PROMPT, settings, None, False) if isinstance(e, Text))

    def _complete(self, text: str, settings: GenerationSettings, cancel: threading.Event | None,
                  streaming: bool) -> Iterator[Event]:
        found = self.key()
        self.client.context = replace(self.client.context, secrets=(found.secret,))
        url = f"{self.router_url}/hf-inference/models/{quote(self.model or '', safe='/')}"
        body = {"inputs": text, "parameters": task_parameters(settings.for_mode("completion")), "stream": streaming}
        response = self.client.request("POST", url, secret=found.secret, body=body, stream=streaming, cancel=cancel)
        # A code continuation ends with the block it was writing, as a local one does.
        stop = StopRule.for_server(settings, body["inputs"])
        if "text/event-stream" not in response.headers.get("Content-Type", ""):
            data = self.client.json(response)
            raise_if_error(self.client, data)
            first = data[0] if isinstance(data, list) and data else data
            if not isinstance(first, dict) or "generated_text" not in first:
                raise self.client.malformed(json.dumps(data)[:80])
            yield Usage(completion_tokens=int((first.get("details") or {}).get("generated_tokens") or 0) or None)
            yield Text(stop.text(first["generated_text"] or ""))
            yield Finish("stop" if stop.ended else _finish(first.get("details")))
            return
        # TGI's stream: one event per token, the last one carrying ``details``; no [DONE] marker.
        shown = False
        try:
            for event in json_events(self.client, response, cancel, is_last=_is_last):
                token = event.get("token") or {}
                if choice := tgi_token_choice(event):
                    yield Token(choice)
                if token and not token.get("special") and token.get("text"):
                    shown = True
                    yield Text(stop.text(token["text"]))
                if stop.ended:  # the block is complete: closing the stream stops the server too
                    yield Finish("stop")
                    return
                if _is_last(event):
                    yield Finish(_finish(event.get("details")))
                    return
        except StreamBroken as error:
            raise (error if shown else error.without_text) from None  # "text kept" only where text came


def _is_last(event: Any) -> bool:
    return isinstance(event, dict) and (event.get("details") is not None or event.get("generated_text") is not None)


def task_parameters(settings: GenerationSettings) -> dict[str, Any]:
    """TGI's parameters for the hf-inference text-generation task; it accepts every local setting."""
    params: dict[str, Any] = {"max_new_tokens": settings.max_new_tokens, "return_full_text": False,
                              "details": True, "top_n_tokens": 5}
    if settings.is_greedy:
        params["do_sample"] = False
    else:
        params.update(do_sample=True, temperature=settings.temperature)
        if settings.top_p < 1.0:  # TGI refuses top_p = 1
            params["top_p"] = settings.top_p
        if settings.top_k:
            params["top_k"] = settings.top_k
    if settings.repetition_penalty not in (None, 1.0):
        params["repetition_penalty"] = settings.repetition_penalty
    if settings.seed is not None:
        params["seed"] = settings.seed
    if settings.stop:
        params["stop"] = list(settings.stop)
    return params


def _finish(details: Any) -> str:
    reason = (details or {}).get("finish_reason") if isinstance(details, dict) else None
    return "length" if reason == "length" else "stop"


def create(model: str | None = None, *, router_url: str = ROUTER_URL, mode: str | None = None, stream: bool = True,
           note: OnNote | None = None, **options: Any) -> HfBackend:
    """Registry factory. A ``base_url`` meant for the openai backend is ignored on purpose: the
    Hugging Face token must never follow it to another server."""
    return HfBackend(model, router_url=router_url, mode=mode, stream=stream, options=http_options(options),
                     on_note=note)
