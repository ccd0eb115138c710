"""An experiment, not yet the chat's path: the lean decoder's decoding step compiled ahead of time
(AOTInductor) against the same step run eagerly, in one process, on the embedded model.

    .venv/bin/python bench/aoti_step.py [--model smollm2] [--runs 3] [--tokens 200] [--threads 1] [--package FILE]

The step takes (token, a tensor whose length is the position + 1, the keys and values cache) and
returns the logits and the new token's keys and values; the caller writes those into the cache.
Writing the cache inside the exported graph makes export functionalize the write into a copy of the
whole cache per layer (measured: twice slower than eager), so the graph only reads the cache and
attends to the new token's own key and value beside it (the two parts' softmax joined by hand).
Compiling takes about a minute on two cores; loading the package then takes a fraction of a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = list(range(100, 140))


class Step(torch.nn.Module):
    """One decoding step of a rotary, gated-MLP lean decoder (Llama, Qwen2), batch of one row."""

    def __init__(self, decoder) -> None:
        super().__init__()
        self.d = decoder

    def forward(self, token, where, keys, values):
        d, s = self.d, self.d.shape
        end = where.shape[0]
        start = end - 1
        heads, kv_heads, dim = s.heads, s.kv_heads, s.head_dim
        x = d.weights.embed[token[:, 0]].to(d.dtype)
        cos, sin = d.cos[start:end], d.sin[start:end]
        new_keys, new_values = [], []
        for index, layer in enumerate(d.layers):
            qkv = layer.qkv(d._norm(x, layer.norm1)).view(1, 1, heads + 2 * kv_heads, dim)
            qk = qkv[:, :, :heads + kv_heads]
            qk = qk * cos + qk.roll(dim // 2, dims=-1) * sin  # the decoder's sine table carries the sign
            key = qk[:, 0, heads:].reshape(1, kv_heads, 1, dim)
            value = qkv[:, 0, heads + kv_heads:].reshape(1, kv_heads, 1, dim)
            new_keys.append(key)
            new_values.append(value)
            q = qk[:, 0, :heads].reshape(1, kv_heads, heads // kv_heads, dim)
            past_k, past_v = keys[index][:, :, :start], values[index][:, :, :start]
            scale = d.scales[index]
            past = torch.matmul(q, past_k.transpose(-1, -2)).float() * scale
            own = (q.float() * key.float()).sum(-1, keepdim=True) * scale
            top = torch.maximum(past.amax(-1, keepdim=True), own)
            p, e = torch.exp(past - top), torch.exp(own - top)
            attn = (torch.matmul(p.to(past_v.dtype), past_v).float() + e * value.float()) / (p.sum(-1, keepdim=True) + e)
            x = x + layer.out(attn.to(d.dtype).reshape(1, heads * dim))
            gate, up = layer.up(d._norm(x, layer.norm2)).chunk(2, dim=-1)
            x = x + layer.down(F.silu(gate) * up)
        return d._head(x), torch.stack(new_keys), torch.stack(new_values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2", help="a rotary, gated-MLP model: preset or folder")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--package", help="a compiled package to reuse (default: compile into a temp folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from torch.export import Dim, export

    from backends.loading.fast_start import load_for_chat
    from backends.loading.models import resolve

    decoder = load_for_chat(resolve(args.model), "cpu", "auto", "auto").fast
    assert decoder.shape.positions == "rope" and decoder.shape.mlp == "gated_silu" and not decoder.shape.qk_norm
    window = 2048
    decoder._rope_table(window)
    step, positions, token = Step(decoder), torch.arange(window), torch.tensor([[5]])
    checked = 32  # steps whose greedy token is compared between eager and compiled
    size = len(PROMPT) + max(args.tokens, checked) + 1

    def fresh():
        cache = decoder.new_cache(size)
        with torch.inference_mode():
            decoder(torch.tensor([PROMPT]), cache)
        return cache

    def steps(fn, cache, count):
        logits = []
        for i in range(count):
            at = len(PROMPT) + i
            out, cache.keys[:, :, :, at:at + 1], cache.values[:, :, :, at:at + 1] = fn(token, positions[:at + 1],
                                                                                       cache.keys, cache.values)
            logits.append(out)
        return logits

    compile_s = 0.0
    package = args.package
    with torch.inference_mode():
        if package is None:
            started = time.perf_counter()
            cache = fresh()
            end, length = Dim("end", min=3, max=window), Dim("length", min=3, max=8192)
            program = export(step, (token, positions[:len(PROMPT) + 1], cache.keys, cache.values),
                             dynamic_shapes=({}, {0: end}, {3: length}, {3: length}), strict=False)
            package = torch._inductor.aoti_compile_and_package(
                program, package_path=str(Path(tempfile.mkdtemp()) / "step.pt2"))
            compile_s = time.perf_counter() - started
        started = time.perf_counter()
        compiled = torch._inductor.aoti_load_package(package)
        load_s = time.perf_counter() - started
        eager_logits, aoti_logits = steps(step, fresh(), checked), steps(compiled, fresh(), checked)
        same = sum(int(a.argmax() == b.argmax()) for a, b in zip(eager_logits, aoti_logits))
        times: dict[str, list[float]] = {"eager": [], "traced": [], "aoti": []}
        for _ in range(args.runs):
            for name, fn in (("eager", step), ("traced", None), ("aoti", compiled)):
                cache = fresh()
                started = time.perf_counter()
                if fn is None:  # the chat's own path: the decoder's traced step, writing its cache
                    for _ in range(args.tokens):
                        decoder._step(token, cache)
                else:
                    steps(fn, cache, args.tokens)
                times[name].append((time.perf_counter() - started) / args.tokens)
    eager = statistics.median(times["eager"])
    print(f"\ndecoding step of {args.model} (parrot default weights), {args.tokens} steps per run, medians of {args.runs} "
          f"interleaved runs, {args.threads} thread(s); compile {compile_s:.0f} s, package load {load_s:.2f} s; "
          f"greedy token equal to eager at {same}/{checked} steps")
    print(f"{'step':<8} {'ms/step':>8} {'tok/s':>7} {'x eager':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<8} {1000 * median:>8.2f} {1 / median:>7.1f} {eager / median:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
