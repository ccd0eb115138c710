"""The lean decoder's forward pass, one structure for every supported architecture.

transformers' decoders run about 45 small tensor operations per layer per token (separate q/k/v
and gate/up products, norms spelled out, rotary embeddings re-computed, a mask built, the cache
grown by concatenation). At batch size 1 on a small model each operation's fixed cost, not the
arithmetic, sets the pace. This pass reads the same weights (fused, optionally quantized by
``backends.quantize``), uses a preallocated cache, and needs about 15 operations per layer. Where
the architectures differ (``Shape``) it takes one branch per layer, not a separate copy of the loop.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F

from .activity import Activity
from .quantize import Dense, Matmul, from_tensors
from .shape import Shape, shape_from_config
from .threads import ThreadTuner
from .weights import PARTS, READERS, Layer, Norm, Weights

# Prompt tokens per prefill step: large enough that the products run as matrix-matrix kernels,
# small enough that one chunk's attention scores (heads x chunk x prompt) stay in the megabytes.
PREFILL_CHUNK = 256


@dataclass
class KVCache:
    """Keys and values of every layer, preallocated: [layers, batch, kv_heads, positions, head_dim]."""

    keys: torch.Tensor
    values: torch.Tensor
    length: int = 0

    def repeat(self, count: int) -> "KVCache":
        """``count`` copies of a one-row cache (a shared prompt), to decode several samples at once."""
        return KVCache(self.keys.repeat(1, count, 1, 1, 1), self.values.repeat(1, count, 1, 1, 1), self.length)


class LeanDecoder:
    """Decode-only forward of a transformers model: ``logits = decoder(ids, cache)``."""

    def __init__(self, shape: Shape, weights: Weights, quantize: str) -> None:
        self.shape, self.weights, self.quantize = shape, weights, quantize
        self.layers = weights.layers
        self.dtype = weights.norm.weight.dtype
        self.device = weights.norm.weight.device
        self.scales = [shape.attention_scale(i) for i in range(shape.layers)]
        # bf16 on the CPU: RMSNorm as one fused LayerNorm (``rms_norm_as_layer_norm``); float32 keeps
        # F.rms_norm, which rounds exactly as transformers does.
        self._norm_as_layer_norm = self.device.type == "cpu" and self.dtype == torch.bfloat16
        self.window = 0
        self.cos = self.sin = torch.empty(0)
        # On the CPU the thread count that decodes fastest depends on what else runs: measured as it goes.
        self.threads = ThreadTuner() if self.device.type == "cpu" else None
        # One-token steps of one row run as a traced graph on the CPU (see ``_step``); None until the
        # first such step, False where tracing failed (the step then stays in Python).
        self._traced: Any = None
        self._where = torch.arange(shape.max_positions, device=self.device)
        # Background work on this model (the quality check) runs only while no call is running.
        self.activity = Activity()

    @classmethod
    def from_model(cls, model: Any, quantize: str = "none", head4: bool = False) -> "LeanDecoder":
        """Read (and quantize) the weights of a transformers model; the model is left as it was.
        ``head4``: a 4-bit output head under int4 (``quantize.head_method``)."""
        shape = shape_from_config(model.config.to_dict())
        assert shape is not None, f"{model.config.model_type}: not covered by the lean decoder"
        if shape.positions == "rope":
            shape = replace(shape, rope_scaling=float(model.model.rotary_emb.attention_scaling))
        # The packed int8/int4 kernels take bf16 activations; unquantized, compute in the weights' dtype.
        dtype = torch.bfloat16 if quantize != "none" else model.get_input_embeddings().weight.dtype
        return cls(shape, READERS[shape.arch](model, shape, dtype, quantize, head4=head4), quantize)

    # -- saving and loading the ready-to-run copy -------------------------------------------------

    def export(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Tensors and a JSON-able description, for ``from_export`` (a ready-to-run copy on disk)."""
        w = self.weights
        tensors: dict[str, torch.Tensor] = {**_norm_tensors("norm", w.norm)}
        kinds = {"embed": _kind(w.embed)}
        tensors.update(_product_tensors("embed", w.embed))
        if w.positions is not None:
            tensors["positions"] = w.positions
        if w.inv_freq is not None:
            tensors["inv_freq"] = w.inv_freq
        # A head tied to the embedding is stored (and later held) once.
        tied = w.head is w.embed or (isinstance(w.head, Dense) and isinstance(w.embed, torch.Tensor)
                                     and w.head.weight.data_ptr() == w.embed.data_ptr())
        kinds["head"] = "tied" if tied else w.head.kind
        if not tied:
            tensors.update(_product_tensors("head", w.head))
        for index, layer in enumerate(self.layers):
            tensors.update(_norm_tensors(f"{index}.norm1", layer.norm1))
            tensors.update(_norm_tensors(f"{index}.norm2", layer.norm2))
            if layer.q_norm is not None:
                tensors[f"{index}.q_norm"], tensors[f"{index}.k_norm"] = layer.q_norm, layer.k_norm
            for part in PARTS:
                matmul = getattr(layer, part)
                kinds[part] = matmul.kind
                tensors.update(_product_tensors(f"{index}.{part}", matmul))
        # torch.save writes a tensor's whole storage: a view into a larger one gets its own.
        tensors = {name: t if t.untyped_storage().nbytes() == t.nbytes else t.clone() for name, t in tensors.items()}
        return tensors, {"shape": asdict(self.shape), "kinds": kinds, "quantize": self.quantize}

    @classmethod
    def from_export(cls, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> "LeanDecoder":
        shape, kinds = Shape(**meta["shape"]), meta["kinds"]

        def part(prefix: str, kind: str) -> Matmul:
            return from_tensors(kind, {name.removeprefix(prefix): t for name, t in tensors.items()
                                       if name.startswith(prefix)})

        def norm(prefix: str) -> Norm:
            return Norm(tensors[f"{prefix}.weight"], tensors.get(f"{prefix}.bias"))

        layers = [Layer(norm(f"{i}.norm1"), part(f"{i}.qkv.", kinds["qkv"]), part(f"{i}.out.", kinds["out"]),
                        norm(f"{i}.norm2"), part(f"{i}.up.", kinds["up"]), part(f"{i}.down.", kinds["down"]),
                        tensors.get(f"{i}.q_norm"), tensors.get(f"{i}.k_norm")) for i in range(shape.layers)]
        embed = tensors["embed"] if kinds["embed"] == "dense" else part("embed.", kinds["embed"])
        if kinds["head"] != "tied":
            head = part("head.", kinds["head"])
        else:
            head = Dense(embed) if isinstance(embed, torch.Tensor) else embed
        weights = Weights(embed, tensors.get("positions"), norm("norm"), layers, head, tensors.get("inv_freq"))
        return cls(shape, weights, meta["quantize"])

    # -- the forward pass ---------------------------------------------------------------------------

    def new_cache(self, length: int, batch: int = 1) -> KVCache:
        """An empty cache for ``length`` positions (prompt plus reply) of ``batch`` rows."""
        self._rope_table(length)
        size = (self.shape.layers, batch, self.shape.kv_heads, length, self.shape.head_dim)
        return KVCache(torch.empty(size, dtype=self.dtype, device=self.device),
                       torch.empty(size, dtype=self.dtype, device=self.device))

    def __call__(self, ids: torch.Tensor, cache: KVCache, every_position: bool = False) -> torch.Tensor:
        """Logits (float32, [batch, vocab]) of the token after ``ids`` ([batch, T]), appending to
        ``cache``; with ``every_position``, the logits after each of the T tokens of a one-row batch
        ([T, vocab], for perplexity).

        A long prompt goes through in chunks of ``PREFILL_CHUNK`` tokens, each attending to the cache
        so far: the attention scores of one chunk (chunk x prompt) are the largest temporary, so memory
        grows linearly with the prompt instead of with its square."""
        with self.activity.busy():
            if self.threads is not None and ids.shape[-1] == 1:
                with self.threads:
                    return self._step(ids, cache)
            if self.threads is not None:
                self.threads.use_best()
            outputs = []
            for begin in range(0, ids.shape[-1], PREFILL_CHUNK):
                x = self._forward(ids[:, begin:begin + PREFILL_CHUNK], cache)
                if every_position:
                    outputs.append(self._head(x))
            return torch.cat(outputs) if every_position else self._head(x.view(ids.shape[0], -1, x.shape[-1])[:, -1])

    def final_states(self, ids: torch.Tensor) -> torch.Tensor:
        """The normalized output of the last layer at every position of a one-row ``ids`` ([T, hidden]):
        what the output head reads, for a caller that applies the head itself (a slice at a time)."""
        cache = self.new_cache(ids.shape[-1])
        with self.activity.busy():
            states = [self._forward(ids[:, begin:begin + PREFILL_CHUNK], cache)
                      for begin in range(0, ids.shape[-1], PREFILL_CHUNK)]
            return self._norm(torch.cat(states), self.weights.norm)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.weights.head(self._norm(x, self.weights.norm)).float()

    def _norm(self, x: torch.Tensor, norm: Norm) -> torch.Tensor:
        if self.shape.norm == "rms":
            if self._norm_as_layer_norm:
                return rms_norm_as_layer_norm(x, norm.doubled, self.shape.eps, self.shape.hidden)
            return F.rms_norm(x, (self.shape.hidden,), norm.weight, self.shape.eps)
        return F.layer_norm(x, (self.shape.hidden,), norm.weight, norm.bias, self.shape.eps)

    def _step(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits after one new token per row. For a single row on the CPU the pass runs as a graph
        traced once (``torch.jit.trace``: the same kernels, so the same numbers, without Python's
        cost per operation -- a few hundred operations per token at this size)."""
        end = cache.length + 1
        if ids.shape[0] != 1 or self.device.type != "cpu" or self._traced is False or end > len(self._where):
            return self._head(self._forward(ids, cache))
        where = self._where[:end]  # its length carries the position into the graph
        if self._traced is None:
            try:
                with warnings.catch_warnings():
                    # The branches on the token count are fixed at one token, as intended; and
                    # torch.jit.trace, though deprecated for torch.compile and torch.export, is the one
                    # of the three that needs no compile step (bench/aoti_step.py measures the other).
                    warnings.simplefilter("ignore")
                    self._traced = torch.jit.trace(self._traced_step, (ids, where, cache.keys, cache.values),
                                                   check_trace=False)
                cache.length = end  # the trace ran the step once
                return self._traced(ids, where, cache.keys, cache.values)  # (same step again: same values)
            except RuntimeError:
                self._traced = False
                return self._head(self._forward(ids, cache))
        logits = self._traced(ids, where, cache.keys, cache.values)
        cache.length = end
        return logits

    def _traced_step(self, ids: torch.Tensor, where: torch.Tensor, keys: torch.Tensor,
                     values: torch.Tensor) -> torch.Tensor:
        return self._head(self._layers(ids, keys, values, where.shape[0] - 1, rows=(1, 1)))

    def _forward(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Hidden states ([batch * T, hidden]) after the last layer, appending keys and values."""
        x = self._layers(ids, cache.keys, cache.values, cache.length)
        cache.length += ids.shape[-1]
        return x

    def _layers(self, ids: torch.Tensor, cache_keys: torch.Tensor, cache_values: torch.Tensor,
                start: int, rows: tuple[int, int] | None = None) -> torch.Tensor:
        """``rows``: (batch, tokens) given as numbers, for the traced step: a graph computes every
        size read from a tensor again at each run (and every operation costs there)."""
        s = self.shape
        batch, count = rows or ids.shape
        end = start + count
        heads, kv_heads, dim = s.heads, s.kv_heads, s.head_dim
        group = heads // kv_heads
        x = self.weights.embed[ids].to(self.dtype)
        if self.weights.positions is not None:
            x = x + self.weights.positions.narrow(0, start, count)
        x = x.view(-1, s.hidden)  # -1 rather than batch * count: no size arithmetic in the traced step
        if s.positions == "rope":
            cos, sin = self.cos.narrow(0, start, count), self.sin.narrow(0, start, count)
        mask = _causal_mask(count, start, x.device) if count > 1 else None
        # Every layer's views of the cache are taken once here, and q/k/v come out of one split: a
        # traced graph records each index expression as one slice per dimension (``[:, :, a:b]`` is
        # three), and those were half the one-token step's operations.
        seen_keys, seen_values = cache_keys.narrow(3, 0, end), cache_values.narrow(3, 0, end)
        new_keys, new_values = cache_keys.narrow(3, start, count), cache_values.narrow(3, start, count)
        for index, layer in enumerate(self.layers):
            h = self._norm(x, layer.norm1)
            qk, value = layer.qkv(h).view(batch, count, heads + 2 * kv_heads, dim).split(
                (heads + kv_heads, kv_heads), dim=2)
            if s.qk_norm:
                q, k = qk.split((heads, kv_heads), dim=2)
                qk = torch.cat((F.rms_norm(q, (dim,), layer.q_norm, s.eps),
                                F.rms_norm(k, (dim,), layer.k_norm, s.eps)), dim=2)
            if s.positions == "rope":
                # Rotate queries and keys together: x * cos + rotate_half(x) * sin, where
                # rotate_half(x) = [-x2, x1] is the halves swapped (one roll) times the sign that
                # ``_rope_table`` put into the sine table.
                qk = qk * cos + qk.roll(dim // 2, dims=-1) * sin
            q, key = qk.split((heads, kv_heads), dim=2)
            new_keys[index].copy_(key.transpose(1, 2))
            new_values[index].copy_(value.transpose(1, 2))
            keys, values = seen_keys[index], seen_values[index]
            scale = self.scales[index]
            if count == 1:
                # One new token sees every cached position: group the query heads that share a
                # key/value head into one batch row, so no repeat of keys and no mask is needed.
                attn = F.scaled_dot_product_attention(q.reshape(batch, kv_heads, group, dim), keys, values,
                                                      scale=scale)
            else:
                # enable_gqa: query heads share their key/value head without a repeated copy of the cache.
                attn = F.scaled_dot_product_attention(q.transpose(1, 2), keys, values, attn_mask=mask,
                                                      scale=scale, enable_gqa=group > 1).transpose(1, 2)
            x = x + layer.out(attn.reshape(-1, heads * dim))
            h = self._norm(x, layer.norm2)
            if s.mlp == "gated_silu":
                gate, up = layer.up(h).chunk(2, dim=-1)
                x = x + layer.down(F.silu(gate) * up)
            else:
                x = x + layer.down(F.gelu(layer.up(h), approximate="tanh"))
        return x

    def _rope_table(self, length: int) -> None:
        # As transformers' rotary module computes it, from its own inverse frequencies (already
        # adjusted for linear/llama3 scaling): cos and sin of position * frequency, halves repeated.
        if length <= self.window or self.weights.inv_freq is None:
            return
        inv_freq = self.weights.inv_freq.to(self.device)
        freqs = torch.arange(length, dtype=torch.float32, device=self.device)[:, None] * inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        self.cos = (angles.cos() * self.shape.rope_scaling).to(self.dtype)[:, None, :]
        sign = torch.ones(angles.shape[-1], device=self.device)
        sign[:angles.shape[-1] // 2] = -1  # rotate_half's minus, on the first half (see _layers)
        self.sin = (angles.sin() * self.shape.rope_scaling * sign).to(self.dtype)[:, None, :]
        self.window = length
        if self._traced is not False:
            self._traced = None  # the graph holds the old tables: trace again


def rms_norm_as_layer_norm(x: torch.Tensor, doubled_weight: torch.Tensor, eps: float, hidden: int) -> torch.Tensor:
    """RMSNorm of ``x`` (last dimension) computed as LayerNorm of ``[x, -x]``: that row's mean is 0
    and its variance is mean(x²), so the first half of LayerNorm's output is RMSNorm's. On the CPU
    LayerNorm is one fused kernel, while F.rms_norm runs as seven small operations: measured 5.1 against
    9.7 µs for one 576-wide bf16 row, and a token of the embedded model takes 61 norms. The result
    differs from F.rms_norm's in bf16 rounding only (one rounding instead of two). ``hidden`` comes as
    a number so that the traced step does not read it from ``x`` at every run."""
    both = F.layer_norm(torch.cat((x, -x), dim=-1), (2 * hidden,), doubled_weight, None, eps)
    return both.narrow(-1, 0, hidden).contiguous()  # the quantized products take contiguous rows


def _kind(embed: torch.Tensor | Matmul) -> str:
    return "dense" if isinstance(embed, torch.Tensor) else embed.kind


def _product_tensors(prefix: str, product: torch.Tensor | Matmul) -> dict[str, torch.Tensor]:
    if isinstance(product, torch.Tensor):  # a dense embedding table
        return {prefix: product}
    return {f"{prefix}.{name}": t for name, t in product.tensors().items()}


def _norm_tensors(prefix: str, norm: Norm) -> dict[str, torch.Tensor]:
    tensors = {f"{prefix}.weight": norm.weight}
    if norm.bias is not None:
        tensors[f"{prefix}.bias"] = norm.bias
    return tensors


def _causal_mask(count: int, start: int, device: torch.device) -> torch.Tensor:
    """Query i (at position start + i) sees keys 0 .. start + i."""
    rows = torch.arange(count, device=device)[:, None] + start
    return torch.arange(start + count, device=device)[None, :] <= rows
