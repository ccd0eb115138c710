"""The engines bench/decode.py compares, worker side: each loads one model one way and answers runs.

An engine is ``run(ids, tokens) -> (seconds to first token, seconds in all, token ids)``: exactly
``tokens`` greedy tokens after the prompt ``ids``, end of text ignored. The same call with a long
prompt and one token is a prefill. Models: the embedded SmolLM2 (from the chat's own fast-start
copy, as a chat loads it), and models with random weights built from a config at their real size --
codeparrot-small (GPT-2), Qwen2.5-Coder 0.5B, 1.5B and 7B (Qwen2) -- for speed only. The Qwen shapes
also come as GGUF files (``bench.gguf_models``), which parrot and llama.cpp both read.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from backends.loading.models import ModelSource, load, resolve

Run = Callable[[list[int], int], tuple[float, float, list[int]]]

# Configs at the real models' sizes (their config.json files), weights random: nothing from the Hub.
SYNTHETIC = {
    "codeparrot-small": ("gpt2", dict(vocab_size=32768, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                                      activation_function="gelu_new", scale_attn_by_inverse_layer_idx=True,
                                      reorder_and_upcast_attn=True, bos_token_id=0, eos_token_id=0)),
    "qwen2.5-coder-0.5b": ("qwen2", dict(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                                         num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                                         max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                         tie_word_embeddings=True, use_sliding_window=False)),
    "qwen2.5-coder-1.5b": ("qwen2", dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                                         num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                                         max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                         tie_word_embeddings=True, use_sliding_window=False)),
    "qwen2.5-coder-7b": ("qwen2", dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944,
                                       num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                                       max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                       tie_word_embeddings=False, use_sliding_window=False)),
    # The Qwen2 architecture at a size that converts and runs in seconds: the benches' smoke tests.
    "tiny-qwen2": ("qwen2", dict(vocab_size=49152, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                                 rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                                 use_sliding_window=False)),
}


def embedded_tokenizer():
    """The embedded model's tokenizer (with its chat template), from its GGUF file's metadata."""
    from backends.loading import gguf_tokenizer
    from backends.loading.gguf_file import gguf_path

    return gguf_tokenizer.build(gguf_path(resolve("smollm2")))


def synthetic_model(name: str, dtype: str):
    """A transformers model of ``name``'s architecture and size with seeded random weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_type, sizes = SYNTHETIC[name]
    config = AutoConfig.for_model(model_type, **sizes)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype)).eval()


def vocab_size(model: str) -> int:
    return SYNTHETIC[model][1]["vocab_size"] if model in SYNTHETIC else 49152


class PeakRss:
    """The highest resident memory seen while a block runs (sampled every 5 ms from /proc)."""

    def __enter__(self) -> "PeakRss":
        self.peak_mb, self._done = rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(0.005):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


def rss_mb() -> float:
    """Resident memory now: after loading and generating, what the model costs while chatting."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def prepare(engine: str, options: dict) -> tuple[Run, Callable | None]:
    """Load one engine: its run, and for parrot also ``batch(ids, tokens, n)`` (else None)."""
    import torch

    if "threads" in options:
        torch.set_num_threads(options["threads"])
    if options.get("native") is False:  # torch's int4 kernel for one token's products (backends/lean/native.py)
        os.environ["PARROT_NATIVE"] = "0"
    model_name = options.get("model", "smollm2")
    if engine == "llamacpp":
        return _llamacpp(options), None
    if engine == "parrot":
        return _parrot(model_name, options)
    if model_name in SYNTHETIC:
        model = synthetic_model(model_name, options["dtype"])
    else:
        model = load(resolve(model_name), "cpu", options["dtype"], quantize="none", lean=False).model
    return (_generate(model) if engine == "generate" else _nocache(model)), None


def gguf_file(options: dict) -> Path:
    """The GGUF file an engine reads: the bench's file of a synthetic model, or the embedded model's."""
    if "gguf" in options:
        from bench.gguf_models import gguf_path

        return gguf_path(options["model"], options["gguf"])
    source = resolve("smollm2")
    return Path(source.location) / source.gguf_file


def _llamacpp(options: dict) -> Run:
    from llama_cpp import Llama  # optional, bench only

    llm = Llama(model_path=str(gguf_file(options)), n_ctx=options.get("ctx", 1024),
                n_threads=options.get("threads", os.cpu_count()), verbose=False)

    def run(ids: list[int], tokens: int):
        started, first, out = time.perf_counter(), None, []
        llm.reset()
        for token in llm.generate(ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
            first = first or time.perf_counter()
            out.append(token)
            if len(out) == tokens:
                break
        return first - started, time.perf_counter() - started, out

    return run


def _parrot(model_name: str, options: dict) -> tuple[Run, Callable]:
    import torch

    from backends.local.batch_sampling import sample_batch
    from backends.local.decoding import decode, make_generator
    from backends.settings import GenerationSettings

    if model_name in SYNTHETIC and "gguf" not in options:
        from backends.lean import LeanDecoder
        from backends.loading.plan import choose_quantize, dtype_name

        # The choices the chat would make for this model (bf16 where the CPU computes it; int4 by
        # default, as before its quality check has run).
        dtype = dtype_name(options["dtype"], "cpu")
        method = choose_quantize(options["quantize"], ModelSource(model_name, "folder", "-"), "cpu", dtype, True)
        decoder, window = LeanDecoder.from_model(synthetic_model(model_name, dtype), method), 32768
    else:
        from backends.loading.fast_start import load_for_chat

        # As the chat loads it (``parrot -m FILE.gguf`` for a GGUF row): from the fast-start copy if a
        # first load wrote one; the quality check, which runs once while the model rests, is waited
        # for, so that it never runs during another configuration's timed run.
        source = resolve(str(gguf_file(options))) if "gguf" in options else resolve(model_name)
        loaded = load_for_chat(source, "cpu", options["dtype"], options["quantize"])
        if loaded.check is not None:
            loaded.check.done.wait()
        decoder, window = loaded.decoder, loaded.window
    if options.get("traced") is False:  # every step through Python, as before the traced step
        decoder._traced = False
    greedy = GenerationSettings(greedy=True, max_new_tokens=10_000)

    def run(ids: list[int], tokens: int):
        started, first, out = time.perf_counter(), None, []
        # The backend's own loop; EOS is ignored so that every engine produces the same count.
        for step in decode(decoder, torch.tensor([ids]), greedy.updated(max_new_tokens=tokens), eos_ids=set(),
                           window=window):
            first = first or time.perf_counter()
            out.append(step.token_id)
        return first - started, time.perf_counter() - started, out

    def batch(ids: list[int], tokens: int, count: int) -> tuple[float, float]:
        """Seconds for ``count`` sampled replies in one batch, and one after another."""
        sampled = GenerationSettings(seed=1, max_new_tokens=tokens)
        started = time.perf_counter()
        sample_batch(decoder, torch.tensor([ids]), sampled, count, eos_ids=set(), window=window,
                     generator=make_generator(1, torch.device("cpu")))
        batched = time.perf_counter() - started
        started = time.perf_counter()
        generator = make_generator(1, torch.device("cpu"))
        for _ in range(count):
            for _step in decode(decoder, torch.tensor([ids]), sampled, eos_ids=set(), window=window,
                                generator=generator):
                pass
        return batched, time.perf_counter() - started

    return run, batch


def _generate(model) -> Run:
    import torch
    from transformers.generation.streamers import BaseStreamer

    class FirstToken(BaseStreamer):
        def __init__(self):
            self.calls, self.first = 0, None

        def put(self, value):
            self.calls += 1
            if self.calls == 2:  # the first put is the prompt
                self.first = time.perf_counter()

        def end(self):
            pass

    def run(ids: list[int], tokens: int):
        streamer = FirstToken()
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 do_sample=False, max_new_tokens=tokens, min_new_tokens=tokens, streamer=streamer,
                                 pad_token_id=0)
        total = time.perf_counter() - started
        return (streamer.first or started + total) - started, total, out[0, len(ids):].tolist()

    return run


def _nocache(model) -> Run:
    import torch

    @torch.inference_mode()
    def run(ids: list[int], tokens: int):
        # The course notebook's greedy loop: the whole sequence goes back in at every step.
        started, first, sequence = time.perf_counter(), None, torch.tensor([ids])
        for _ in range(tokens):
            next_id = model(input_ids=sequence, use_cache=False).logits[:, -1, :].argmax(-1, keepdim=True)
            sequence = torch.cat([sequence, next_id], dim=-1)
            first = first or time.perf_counter()
        return first - started, time.perf_counter() - started, sequence[0, len(ids):].tolist()

    return run
