"""The local backend: a transformers model on this machine, streamed through ``decoding.decode``."""

from __future__ import annotations

import secrets
import threading
from typing import Any, Iterator

from ..base import BackendInfo, Message
from ..errors import BackendError
from ..loading.fast_start import load_for_chat
from ..loading.models import DEFAULT_MODEL, LoadedModel, OnProgress, resolve
from ..reply import Event, Finish, GenerationStats, Prefill, Reply, Started, Text, Token, TokenChoice
from ..settings import GenerationSettings
from .prompts import completion_text, fit_prompt
from .stop_rule import StopRule
from .text_stream import Detokenizer


class LocalBackend:
    """Chat models get the conversation through their chat template; completion models get raw text."""

    name = "local"

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "auto",
                 progress: OnProgress | None = None, quantize: str = "auto") -> None:
        self.model_name = model
        self.device = device
        self.dtype = dtype
        self.quantize = quantize
        self.progress = progress
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()
        self._load_cancel = threading.Event()  # stops a Hub download (Esc in the app)

    @classmethod
    def from_loaded(cls, loaded: LoadedModel) -> "LocalBackend":
        """Wrap an already loaded model (tests, benchmarks, a fine-tuning run's result)."""
        backend = cls(loaded.source.name, loaded.device, loaded.dtype, quantize=loaded.quantize)
        backend._loaded = loaded
        return backend

    # -- loading ---------------------------------------------------------------------------------

    def load(self) -> LoadedModel:
        """Load on first use; safe to call from several threads (the UI preloads in the background)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = load_for_chat(resolve(self.model_name), self.device, self.dtype,
                                             self.quantize, self.progress, cancel=self._load_cancel)
            return self._loaded

    def cancel_load(self) -> None:
        """Stop a download in progress; the partial file is dropped and loading fails with one line."""
        self._load_cancel.set()

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def tokenizer(self) -> Any:
        return self.load().tokenizer

    @property
    def context_window(self) -> int:
        return self.load().window

    def describe(self) -> BackendInfo:
        loaded = self._loaded
        if loaded is None:  # nothing is claimed before the model has loaded
            return BackendInfo(self.name, self.model_name)
        return BackendInfo(self.name, self.model_name, mode=loaded.mode, device=loaded.device, dtype=loaded.dtype,
                           quantize=loaded.quantize, context_window=loaded.window, **loaded.weight_facts())

    # -- prompts ---------------------------------------------------------------------------------

    def prompt_ids(self, messages: list[Message], settings: GenerationSettings) -> tuple[list[int], int, int]:
        """Token ids of the prompt, trimmed to fit the window: (ids, dropped messages, dropped tokens)."""
        loaded = self.load()
        return fit_prompt(loaded.tokenizer, loaded.is_chat, messages, settings, loaded.window)

    # -- generation ------------------------------------------------------------------------------

    def stream(self, messages: list[Message], settings: GenerationSettings,
               cancel: threading.Event | None = None) -> Reply:
        stats = GenerationStats(backend=self.name, model=self.model_name)
        return Reply(self._generate(messages, settings, cancel), stats, cancel)

    def stream_from(self, messages: list[Message], settings: GenerationSettings, prefix: list[TokenChoice],
                    cancel: threading.Event | None = None) -> Reply:
        """A reply that starts with exactly the tokens ``prefix`` (kept as given) and goes on from there.

        Branching from a token (/probs N --pick K) forces a prefix this way; ids, not text, so that
        re-tokenising cannot change what was forced.
        """
        stats = GenerationStats(backend=self.name, model=self.model_name)
        return Reply(self._generate(messages, settings, cancel, list(prefix)), stats, cancel)

    def _generate(self, messages: list[Message], settings: GenerationSettings,
                  cancel: threading.Event | None, prefix: list[TokenChoice] = ()) -> Iterator[Event]:
        import torch

        from .decoding import decode, make_generator

        loaded = self.load()
        settings = settings.for_mode(loaded.mode)  # a completion model's repetition penalty, unless one was set
        ids, dropped_messages, dropped_tokens = self.prompt_ids(messages, settings)
        # Always sample from a known seed so that any reply can be reproduced from history.
        seed = None if settings.is_greedy else settings.seed if settings.seed is not None else secrets.randbits(63)
        # After loading: the clock starts now.
        yield Started(len(ids), dropped_messages, dropped_tokens, seed, settings=settings)
        ids = ids + [t.token_id for t in prefix]
        generator = make_generator(seed, torch.device(loaded.device))
        input_ids = torch.tensor([ids], device=loaded.device)
        detok = Detokenizer(loaded.tokenizer)
        # A code continuation ends with the block it was writing, not at the token limit.
        stop = StopRule.for_reply(settings, loaded.eos_ids, loaded.window, cancel,
                                  None if loaded.is_chat else completion_text(messages))
        for forced in prefix:  # through the same rule, so stop strings and blocks see the whole reply
            yield Token(forced)
            yield Text(stop.text(detok.push(forced.token_id)))
        try:
            if not stop.ended:
                for step in decode(loaded.decoder, input_ids, settings, stop=stop, generator=generator,
                                   prefill_progress=True):
                    if isinstance(step, Prefill):  # a long prompt, read a chunk at a time
                        yield step
                        continue
                    yield Token(_token_choice(loaded.tokenizer, step))
                    if stop.is_end(step.token_id):
                        break
                    yield Text(stop.text(detok.push(step.token_id)))
                    if stop.ended:
                        break
            yield Text(stop.flush())
        except RuntimeError as error:  # torch raises RuntimeError for out-of-memory, bad shapes, ...
            raise BackendError(f"generation failed: {str(error).splitlines()[0]}") from error
        yield Finish(stop.reason if stop.reason in ("stop", "length", "loop") else "length")

    def sample(self, messages: list[Message], settings: GenerationSettings, count: int) -> list[str]:
        """``count`` replies to the same messages, decoded together in one batch (pass@k, /retry n).

        Sampled unless ``settings`` are greedy; reproducible from ``settings.seed``. Stop strings cut
        each reply as they would a streamed one."""
        import torch

        from .batch_sampling import sample_batch
        from .decoding import make_generator

        loaded = self.load()
        settings = settings.for_mode(loaded.mode)
        ids, _, _ = self.prompt_ids(messages, settings)
        generator = make_generator(settings.seed, torch.device(loaded.device))
        try:
            rows = sample_batch(loaded.decoder, torch.tensor([ids], device=loaded.device), settings, count,
                                eos_ids=loaded.eos_ids, window=loaded.window, generator=generator)
        except RuntimeError as error:
            raise BackendError(f"generation failed: {str(error).splitlines()[0]}") from error
        stop = StopRule.for_reply(settings, loaded.eos_ids, loaded.window)
        return [stop.cut(loaded.tokenizer.decode(row)) for row in rows]


def _token_choice(tokenizer: Any, step: Any) -> TokenChoice:
    decode = tokenizer.decode
    return TokenChoice(step.token_id, decode([step.token_id]), step.prob,
                       [(decode([i]), p) for i, p in zip(step.top_ids, step.top_probs)], list(step.top_ids))

