"""A GGUF file as parrot reads it: its metadata (and the model config it describes), its tensor
table, and each tensor's raw blocks.

The header is parsed here rather than with ``gguf.GGUFReader``: the reader builds a numpy view for
every element of every metadata array, which takes 6.5 s for the embedded model's 49,152-token
vocabulary (and grows with it), where walking the same bytes takes a few milliseconds. The tensor
data is never copied as a whole: ``raw`` returns a view of the mapped file, and ``release`` hands a
tensor's pages back once it has been repacked, so that reading a file does not keep it resident.
"""

from __future__ import annotations

import mmap
import struct
import warnings
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from ..errors import ModelUnavailable
from .source import ModelSource

if TYPE_CHECKING:
    import torch


# Metadata value types (the GGUF spec's numbering): fixed-size ones by struct format; 8 is a string
# and 9 an array, read by ``_value``.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of the file: its name, shape in torch order ([rows, columns]), block type and bytes."""

    name: str
    shape: tuple[int, ...]
    kind: GGMLQuantizationType
    start: int  # from the start of the file
    nbytes: int

    @property
    def rows(self) -> int:
        return prod(self.shape[:-1])

    @property
    def columns(self) -> int:
        return self.shape[-1]


class GgufFile:
    """A mapped GGUF file: ``metadata``, ``tensors`` by name, and ``raw(name)``."""

    def __init__(self, path: str | Path, tokenizer: bool = False) -> None:
        """``tokenizer``: read the tokenizer's arrays (vocabulary, merges, token types) too; without it
        they are only counted, which is all loading the weights needs."""
        self.path = Path(path)
        try:
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as error:  # ValueError: an empty file cannot be mapped
            raise ModelUnavailable(f"could not read {self.path.name}: {error}", "check the path to the .gguf file")
        cut = ModelUnavailable(f"could not read {self.path.name}: the file ends early (truncated or damaged)",
                               "download the .gguf file again")
        try:
            self.metadata, self.tensors = _parse(self._map, tokenizer)
        except struct.error:  # a read past the end: the header promises more than the file holds
            raise cut from None
        except (UnicodeDecodeError, KeyError, ValueError) as error:
            raise ModelUnavailable(f"could not read {self.path.name}: not a GGUF file parrot can read ({error})",
                                   "give a complete .gguf file") from None
        if max((t.start + t.nbytes for t in self.tensors.values()), default=0) > len(self._map):
            raise cut

    @property
    def arch(self) -> str:
        return str(self.metadata["general.architecture"])

    def get(self, key: str, default: Any = None) -> Any:
        """A metadata value of this file's architecture: ``get("block_count")`` reads ``llama.block_count``."""
        return self.metadata.get(f"{self.arch}.{key}", default)

    def raw(self, name: str) -> "torch.Tensor":
        """The tensor's bytes as stored, ``[rows, bytes per row]`` uint8, viewing the mapped file."""
        import torch  # here, not at the top: the tokenizer's process reads the header without torch

        entry = self.tensors[name]
        with warnings.catch_warnings():  # the map is read-only, and nothing here writes to it
            warnings.simplefilter("ignore")
            flat = torch.frombuffer(self._map, dtype=torch.uint8, count=entry.nbytes, offset=entry.start)
        return flat.view(entry.rows, -1)

    def release(self, name: str, rows: tuple[int, int] | None = None) -> None:
        """Drop the pages of a tensor (or of its ``rows``) already read from this process's memory; the
        OS may keep them cached, but they no longer count as this process's."""
        entry = self.tensors[name]
        first, last = rows or (0, entry.rows)
        start, end = entry.start + first * entry.nbytes // entry.rows, entry.start + last * entry.nbytes // entry.rows
        begin = start - start % mmap.PAGESIZE
        if end > begin:
            self._map.madvise(mmap.MADV_DONTNEED, begin, end - begin)


def _parse(blob: mmap.mmap, tokenizer: bool) -> tuple[dict[str, Any], dict[str, TensorEntry]]:
    if blob[:4] != b"GGUF":
        raise ValueError("it does not start with the GGUF magic bytes")
    version, tensor_count, metadata_count = struct.unpack_from("<IQQ", blob, 4)
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} is not one parrot reads (2 or 3)")
    position, metadata = 24, {}
    for _ in range(metadata_count):
        key, position = _string(blob, position)
        (kind,) = struct.unpack_from("<I", blob, position)
        metadata[key], position = _value(blob, position + 4, kind, key, tokenizer or not key.startswith("tokenizer."))
    table = []
    for _ in range(tensor_count):
        name, position = _string(blob, position)
        (dims,) = struct.unpack_from("<I", blob, position)
        shape = struct.unpack_from(f"<{dims}Q", blob, position + 4)
        kind, offset = struct.unpack_from("<IQ", blob, position + 4 + 8 * dims)
        position += 4 + 8 * dims + 12
        table.append((name, tuple(reversed(shape)), GGMLQuantizationType(kind), offset))
    alignment = int(metadata.get("general.alignment", 32))
    data = (position + alignment - 1) // alignment * alignment
    tensors = {}
    for name, shape, kind, offset in table:
        block, size = GGML_QUANT_SIZES[kind]
        tensors[name] = TensorEntry(name, shape, kind, data + offset, prod(shape) // block * size)
    return metadata, tensors


def _value(blob: mmap.mmap, position: int, kind: int, key: str, whole: bool) -> tuple[Any, int]:
    """One metadata value and the position after it; an array only counted unless ``whole``."""
    if kind in _SCALARS:
        return struct.unpack_from(_SCALARS[kind], blob, position)[0], position + struct.calcsize(_SCALARS[kind])
    if kind == _STRING:
        return _string(blob, position)
    if kind != _ARRAY:
        raise ValueError(f"unknown metadata type {kind} under {key}")
    inner, count = struct.unpack_from("<IQ", blob, position)
    position += 12
    counted = not whole
    if inner in _SCALARS:
        width = struct.calcsize(_SCALARS[inner])
        values = count if counted else list(struct.unpack_from(f"<{count}{_SCALARS[inner][1]}", blob, position))
        return values, position + count * width
    if inner != _STRING:
        raise ValueError(f"an array of type {inner} under {key}")
    strings = []
    for _ in range(count):
        if counted:
            position += 8 + struct.unpack_from("<Q", blob, position)[0]
        else:
            value, position = _string(blob, position)
            strings.append(value)
    return (count if counted else strings), position


def _string(blob: mmap.mmap, position: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<Q", blob, position)
    position += 8
    return blob[position:position + length].decode("utf-8"), position + length


ROTARY_ARCHS = ("llama", "qwen2", "qwen3")


def gguf_path(source: ModelSource) -> Path:
    """The file a GGUF source names."""
    return Path(source.location) / (source.gguf_file or "")


def gguf_config(file: GgufFile) -> dict[str, Any]:
    """The model's config as transformers spells it (what ``lean.shape_from_config`` reads). An
    architecture parrot does not read from GGUF gets only its ``model_type``."""
    arch, get, tensors = file.arch, file.get, file.tensors
    if arch not in (*ROTARY_ARCHS, "gpt2") or "token_embd.weight" not in tensors:
        return {"model_type": arch}
    heads, hidden = get("attention.head_count"), get("embedding_length")
    sizes = {"vocab_size": tensors["token_embd.weight"].rows, "tie_word_embeddings": "output.weight" not in tensors}
    if arch == "gpt2":
        # llama.cpp's GPT-2 scales attention by 1/sqrt(head_dim) alone (no per-layer scaling).
        return {"model_type": "gpt2", "n_layer": get("block_count"), "n_embd": hidden, "n_head": heads,
                "n_inner": get("feed_forward_length"), "n_positions": get("context_length"),
                "layer_norm_epsilon": get("attention.layer_norm_epsilon", 1e-5),
                "activation_function": "gelu_new", **sizes}
    head_dim = get("attention.key_length") or hidden // heads
    kv_heads = get("attention.head_count_kv", heads)
    scaling = get("rope.scaling.type", "none")
    if get("rope.dimension_count", head_dim) != head_dim or isinstance(kv_heads, list) or scaling not in ("none", "linear"):
        return {"model_type": arch}  # partial rotary, per-layer heads, YaRN: transformers' forward
    return {"model_type": arch, "num_hidden_layers": get("block_count"), "hidden_size": hidden,
            "intermediate_size": get("feed_forward_length"), "num_attention_heads": heads,
            "num_key_value_heads": kv_heads, "head_dim": head_dim,
            "rms_norm_eps": get("attention.layer_norm_rms_epsilon", 1e-6),
            "max_position_embeddings": get("context_length", 2048), "hidden_act": "silu",
            "attention_bias": "blk.0.attn_q.bias" in tensors, "mlp_bias": "blk.0.ffn_up.bias" in tensors,
            "rope_scaling": {"rope_type": "linear" if scaling == "linear" else "default"}, **sizes}
