"""Train a WordPiece (or BPE) tokenizer the way the course notebook does, with the tokenizers library.

The pipeline: every run of whitespace becomes one space, then lowercase, NFD and strip accents; the
text is split on whitespace, into single digits and around punctuation; a WordPiece model with
``[UNK]`` learns a vocabulary of 12,000 with ``[PAD] [UNK] [CLS] [SEP] [MASK]``. Data: the first 20%
of wikitext-103's train split from the Hub (the parquet copy; the old ``wikitext`` loading script no
longer runs; fetched once into the Hub cache, with the user's token, and read from there offline), or
local text files and folders. Progress goes to a plain callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from backends import paths
from backends.errors import ModelUnavailable, UsageError
from backends.loading.tokenizer_source import trained_dir

OnProgress = Callable[[str], None]

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HUB_DATASET, HUB_CONFIG, HUB_SPLIT = "Salesforce/wikitext", "wikitext-103-raw-v1", "train[:20%]"
# The train split's parquet files alone: the config's test and validation files are not fetched.
HUB_FILES = f"{HUB_CONFIG}/train-*.parquet"
LOCAL_HINT = "train on local text instead: --data PATH (files or folders)"
MODELS = ("wordpiece", "bpe")
BATCH = 1000  # texts per batch handed to the trainer
LIMIT_ALPHABET = 1000  # characters kept as single tokens; rarer ones become [UNK]
REPORT_EVERY = 10  # percent of the data between two progress lines


@dataclass(frozen=True)
class TrainResult:
    name: str
    path: Path  # the saved tokenizer.json
    vocab_size: int
    texts: int


def build_tokenizer(model: str = "wordpiece"):
    """An untrained tokenizer with the notebook's normalizers, pre-tokenizers and decoder."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    if model not in MODELS:
        raise UsageError(f"unknown tokenizer model {model!r}", f"choose {' or '.join(MODELS)}")
    if model == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    else:
        # BPE learns merges instead of likelihoods; the same "##" prefix keeps the two comparable.
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(r"\s+"), " "),
        normalizers.Lowercase(),
        normalizers.NFD(),
        normalizers.StripAccents(),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation(),
    ])
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


def build_trainer(model: str, vocab_size: int):
    from tokenizers import trainers

    # Without a limit every distinct character of the corpus enters the vocabulary, twice (with and
    # without "##"): on source code or wikitext that alone can exceed 12,000 and leave no room for
    # a single merge. 1,000 is the limit the tokenizers library's own BERT WordPiece recipe uses.
    options = dict(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                   limit_alphabet=LIMIT_ALPHABET)
    if model == "wordpiece":
        return trainers.WordPieceTrainer(**options)
    return trainers.BpeTrainer(**options, continuing_subword_prefix="##")


def hub_texts(progress: OnProgress | None = None) -> tuple[Iterable[str], int]:
    """The first 20% of wikitext-103's train split (about 360,000 lines) and how many there are."""
    from .hub_datasets import cached_files

    def downloading() -> None:
        if progress:
            progress(f"downloading {HUB_DATASET} {HUB_CONFIG}'s train split (about 300 MB, once)")

    files = cached_files(HUB_DATASET, [HUB_FILES], LOCAL_HINT, downloading)
    if progress:
        progress(f"loading {HUB_DATASET} {HUB_CONFIG} {HUB_SPLIT}")
    try:
        from datasets import load_dataset

        data = load_dataset("parquet", data_files={"train": [str(f) for f in files]}, split=HUB_SPLIT)
    except (OSError, ValueError) as error:  # a cached file that is not parquet (damaged on disk)
        raise ModelUnavailable(f"could not read {HUB_DATASET}: {str(error).strip().splitlines()[0]}",
                               LOCAL_HINT) from None
    return data["text"], len(data)


def local_files(sources: Iterable[str]) -> list[Path]:
    """Text files named directly or found in folders (hidden files and folders are skipped)."""
    files: list[Path] = []
    for source in sources:
        path = Path(source).expanduser()
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            raise UsageError(f"no such file or folder: {source}", "give text files, folders, or 'hub'")
    if not files:
        raise UsageError("the given folders hold no files", "point --data at text files")
    return files


def local_texts(files: list[Path]) -> tuple[Iterator[str], int]:
    """Lines of the files (binary files are skipped: they would teach the vocabulary noise)."""
    def lines() -> Iterator[str]:
        for file in files:
            try:
                with file.open(encoding="utf-8") as handle:
                    yield from handle
            except UnicodeDecodeError:
                continue

    total = 0
    for file in files:
        try:
            with file.open("rb") as handle:
                total += sum(1 for _ in handle)
        except OSError:
            continue
    return lines(), total


def batches(texts: Iterable[str], total: int, progress: OnProgress | None) -> Iterator[list[str]]:
    """Feed the trainer in batches, reporting how far through the data it is."""
    batch: list[str] = []
    seen, reported = 0, 0
    for text in texts:
        batch.append(text)
        if len(batch) == BATCH:
            seen += len(batch)
            percent = 100 * seen // max(total, 1)
            if progress and percent >= reported + REPORT_EVERY:  # a line per step, not per batch
                reported = percent - percent % REPORT_EVERY
                progress(f"read {seen:,} of {total:,} lines ({percent}%)")
            yield batch
            batch = []
    if batch:
        yield batch
    if progress:
        progress(f"read all {total:,} lines; building the vocabulary")


def train(data: list[str] | None = None, *, vocab_size: int = 12_000, model: str = "wordpiece",
          name: str | None = None, progress: OnProgress | None = None) -> TrainResult:
    """Train on ``data`` (``["hub"]`` or None: wikitext; else files and folders); save tokenizer.json."""
    if not 100 <= vocab_size <= 1_000_000:
        raise UsageError(f"vocabulary size {vocab_size} is out of range", "use a whole number from 100 to 1000000")
    name = name or model
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or name.startswith("."):
        raise UsageError(f"{name!r} is not a usable name", "use letters, digits, '-', '_' and '.'")
    tokenizer, trainer = build_tokenizer(model), build_trainer(model, vocab_size)
    if data and "hub" in data and len(data) > 1:
        raise UsageError("'hub' cannot be mixed with local files", "train on one or the other")
    if not data or data == ["hub"]:
        texts, total = hub_texts(progress)
    else:
        texts, total = local_texts(local_files(data))
    tokenizer.train_from_iterator(batches(texts, total, progress), trainer=trainer, length=total)
    target = trained_dir(name) / "tokenizer.json"
    paths.atomic_write_text(target, tokenizer.to_str(pretty=True))
    if progress:
        progress(f"saved {model} tokenizer {name!r} ({tokenizer.get_vocab_size():,} tokens) to {target}")
    return TrainResult(name, target, tokenizer.get_vocab_size(), total)
