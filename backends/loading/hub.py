"""Fetching a model or a tokenizer from the Hugging Face Hub into its cache, with progress and cancel.

parrot downloads the files a causal LM needs (config, tokenizer, one kind of weights) itself, file by
file, with the user's token (``HF_TOKEN``, the keyring of ``parrot login``, or the ``hf auth login``
file), then loads the local snapshot. That way the keyring token reaches the Hub, progress reaches
the screen, Esc can stop a download, and transformers never sees a Hub id: it cannot start its
background safetensors conversion (a pull request opened on the user's behalf) for ``.bin``-only repos.
"""

from __future__ import annotations

import fnmatch
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable

from ..errors import BackendError, ModelUnavailable
from .counted_progress import CountedProgress

OFFLINE_OPTIONS = "use the embedded model (--model smollm2), a local folder or a .gguf file"
OFFLINE_CHAT_OPTIONS = "use the embedded model (`/model smollm2`), a local folder or a .gguf file"

# transformers starts the conversion on its own whenever it loads a .bin-only Hub repo; parrot loads
# local snapshots, and this switch (transformers' own) covers anything that still passes a Hub id.
os.environ["DISABLE_SAFETENSORS_CONVERSION"] = "1"

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                   "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "chat_template.jinja",
                   "chat_template.json", "additional_chat_templates/*")
MODEL_FILES = ("config.json", "generation_config.json")
SAFETENSORS = ("model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json")
PYTORCH_BIN = ("pytorch_model.bin", "pytorch_model-*-of-*.bin", "pytorch_model.bin.index.json")


class DownloadProgress(CountedProgress):
    """``downloading org/id: 40% (1.2 of 3.0 MB)``, with the numbers kept so a screen can draw a bar."""

    def __new__(cls, repo_id: str, done: int, total: int) -> "DownloadProgress":
        return super().__new__(cls, f"downloading {repo_id}", done, total, "MB", _mb)  # type: ignore[return-value]


class DownloadCancelled(BackendError):
    """The user stopped a download (Esc); nothing partial was kept."""


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}"


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hub's host accepts a TCP connection (and offline mode is not set)."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_token() -> str | None:
    """The user's Hugging Face token for the Hub, wherever parrot finds it (never printed)."""
    from ..credentials import find_hf_token

    found = find_hf_token()
    return found.secret.reveal() if found else None


def cached_snapshot(repo_id: str, tokenizer_only: bool = False) -> Path | None:
    """The cached snapshot of ``repo_id`` at ``main`` if it is complete, else None (no network).

    ``download`` fetches weights last, and the client moves a file into the snapshot only once it is
    whole, so weights there (every shard an index names) mean the rest arrived before them.
    """
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached (the client raises its own LocalEntryNotFoundError, or OSError)
        return None
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    if tokenizer_only:
        return folder if _matching(names, TOKENIZER_FILES) else None
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if index in names:
            try:
                shards = set(json.loads((folder / index).read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, AttributeError):
                return None
            return folder if shards <= names else None
    return folder if names & {"model.safetensors", "pytorch_model.bin"} and "config.json" in names else None


def choose_files(names: list[str], tokenizer_only: bool = False) -> list[str]:
    """The files of a repo worth fetching: tokenizer and config, and one kind of weights (safetensors first)."""
    if tokenizer_only:  # and the config: it names the tokenizer class for some models, and the window
        return sorted(_matching(names, TOKENIZER_FILES + ("config.json",)))
    wanted = TOKENIZER_FILES + MODEL_FILES + (SAFETENSORS if _matching(names, SAFETENSORS) else PYTORCH_BIN)
    weights = SAFETENSORS + PYTORCH_BIN  # last: their presence in the cache marks a complete download
    return sorted(_matching(names, wanted), key=lambda n: (bool(_matching([n], weights)), n))


def _matching(names: Any, patterns: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}


def download(repo_id: str, *, tokenizer_only: bool = False, progress: Callable[[str], None] | None = None,
             cancel: threading.Event | None = None) -> Path:
    """Fetch what ``repo_id`` needs into the HF cache and return the snapshot folder.

    A file that stops half-way is retried by the client with a range request; if it still fails, or
    the user cancels, the partial file is removed and the error is one line.
    """
    if not hub_reachable():  # the client would retry an unreachable host for about a minute first
        raise ModelUnavailable(f"{repo_id} is not in the local Hugging Face cache and the Hub cannot be reached",
                               OFFLINE_OPTIONS, OFFLINE_CHAT_OPTIONS)
    from huggingface_hub import HfApi, hf_hub_download

    token = hub_token()
    try:
        info = HfApi().model_info(repo_id, token=token, files_metadata=True)
        sizes = {s.rfilename: s.size or 0 for s in info.siblings or []}
        files = choose_files(list(sizes), tokenizer_only)
        if not files:
            raise ModelUnavailable(f"{repo_id} has no model files parrot can load",
                                   "give a causal language model with a config.json and a tokenizer")
        counter = _Counter(repo_id, sum(sizes[f] for f in files), progress, cancel)
        for name in files:
            # By branch, not info.sha: the client then records refs/main, which offline runs look up.
            path = hf_hub_download(repo_id, name, token=token, tqdm_class=counter.bar)
            counter.finished(name, sizes[name])
        return Path(path).parents[len(Path(name).parts) - 1]
    except (ModelUnavailable, DownloadCancelled):
        raise
    except Exception as error:
        raise hub_error(repo_id, error) from None


def hub_error(repo_id: str, error: BaseException) -> BackendError:
    """One line for what the Hub said: gated, missing, or a download that broke off."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    if isinstance(error, GatedRepoError):
        status = error.response.status_code if error.response is not None else 401
        if status == 403:
            return ModelUnavailable(f"{repo_id} is gated and your Hugging Face token has no access to it",
                                    f"accept its terms on its Hub page ({repo_id}), then try again")
        return ModelUnavailable(f"{repo_id} is gated: the Hub needs your Hugging Face token to download it",
                                "run `parrot login` (or set HF_TOKEN) after accepting its terms on its Hub page",
                                "run /login (or set HF_TOKEN) after accepting its terms on its Hub page")
    if isinstance(error, RepositoryNotFoundError):
        return ModelUnavailable(f"there is no model {repo_id} on the Hub",
                                "check the id; a private model needs `parrot login` first",
                                "check the id; a private model needs /login first")
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        return ModelUnavailable(f"the Hub answered {error.response.status_code} for {repo_id}",
                                "try again in a moment")
    text = str(error).strip().splitlines()
    return ModelUnavailable(f"the download of {repo_id} broke off ({type(error).__name__}: {text[0] if text else ''})",
                            "run the same command again: nothing partial was kept")


class _Counter:
    """Sums the client's per-file progress bars into one for the whole download, and checks for cancel."""

    def __init__(self, repo_id: str, total: int, progress: Callable[[str], None] | None,
                 cancel: threading.Event | None) -> None:
        self.repo_id, self.total, self.progress, self.cancel = repo_id, total, progress, cancel
        self.done = self.current = 0
        self.step = max(total // 100, 1)
        self.shown = -1
        counter = self

        class Bar:  # the shape of tqdm that huggingface_hub's http_get uses
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                counter.current = kwargs.get("initial") or 0

            def __enter__(self) -> "Bar":
                return self

            def __exit__(self, *exc: Any) -> None:
                pass

            def update(self, n: float | None = 1) -> None:
                counter.add(int(n or 0))

            def close(self) -> None:
                pass

            def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
                pass

        self.bar = Bar
        self._report()

    def add(self, n: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled(f"the download of {self.repo_id} was cancelled",
                                    "nothing partial was kept; ask for the model again to restart it")
        self.current += n
        if (self.done + self.current) // self.step != self.shown // self.step:
            self._report()

    def finished(self, name: str, size: int) -> None:
        self.done += size
        self.current = 0
        self._report()

    def _report(self) -> None:
        self.shown = self.done + self.current
        if self.progress:
            self.progress(DownloadProgress(self.repo_id, min(self.shown, self.total), self.total))
