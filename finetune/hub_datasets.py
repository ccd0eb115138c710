"""Datasets from the Hugging Face Hub: the user's token, the local cache, quiet retries, one-line errors.

``datasets`` and ``huggingface_hub`` read the token from ``HF_TOKEN`` or ``hf auth login`` only, never the
OS keyring that ``parrot login`` fills, so it is handed to them here (``token=``), as model downloads do.
Their retry notes ("Error while downloading from <signed URL> ... Trying to resume download") are kept
off the screen; what went wrong is said once, in one line with a fix, and never with a signed URL.

Files that are read whole (wikitext for tokenizer training) are fetched into the Hub client's cache
with ``snapshot_download``, so a later run, offline or not, finds them there. A stream (github-code,
far too big to fetch) reads over ``hf://`` and cannot run offline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from backends.errors import ModelUnavailable, ParrotError

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
CHATTY_LOGGERS = ("huggingface_hub", "datasets", "fsspec")
# The libraries whose errors a broken download ends in: they share no base class to catch.
NETWORK_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "h11", "requests", "urllib3", "huggingface_hub",
                   "aiohttp", "fsspec")


def offline_variable() -> str | None:
    """The environment variable that puts the Hub clients offline, if one does."""
    return next((name for name in OFFLINE_VARIABLES
                 if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}), None)


def hub_token() -> str | None:
    """The user's Hugging Face token for the Hub (HF_TOKEN, the keyring of ``parrot login``, the hf file)."""
    from backends.loading.hub import hub_token as token

    return token()


@contextlib.contextmanager
def quiet_clients() -> Iterator[None]:
    """Keep the Hub clients' retry notes (which name signed download URLs) off the screen meanwhile."""
    loggers = [logging.getLogger(name) for name in CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def cached_files(repo_id: str, patterns: list[str], hint: str,
                 on_download: Callable[[], None] | None = None) -> list[Path]:
    """The dataset's files that match ``patterns``: from the cache, else downloaded with the user's token
    (``on_download`` is told first). Offline, or with the Hub out of reach, the cache alone answers."""
    from huggingface_hub import snapshot_download

    from backends.loading.hub import hub_reachable

    offline = offline_variable()
    if offline or not hub_reachable():
        try:
            folder = snapshot_download(repo_id, repo_type="dataset", allow_patterns=patterns, local_files_only=True)
            files = _matching(Path(folder), patterns)
        except Exception:  # not cached: the client raises its own LocalEntryNotFoundError, or OSError
            files = []
        if files:
            return files
        why = (f"offline mode is set ({offline}=1)" if offline else "the Hugging Face Hub cannot be reached")
        raise ModelUnavailable(f"could not load {repo_id}: {why} and it is not in the local cache",
                               f"{f'unset {offline} to download it once, or ' if offline else ''}{hint}")
    if on_download is not None:
        on_download()
    with quiet_clients():
        try:
            folder = snapshot_download(repo_id, repo_type="dataset", allow_patterns=patterns, token=hub_token())
        except Exception as error:
            failure = dataset_error(repo_id, error, hint)
            if failure is None:
                raise
            raise failure from None
    files = _matching(Path(folder), patterns)
    if not files:
        raise ModelUnavailable(f"{repo_id} has no files matching {', '.join(patterns)}", hint)
    return files


def _matching(folder: Path, patterns: list[str]) -> list[Path]:
    return sorted(p for pattern in patterns for p in folder.glob(pattern) if p.is_file())


def dataset_error(repo_id: str, error: BaseException, hint: str) -> ParrotError | None:
    """One line for what reading a Hub dataset ran into: gated, missing, offline, or a download that broke off;
    None for an error that is none of these (a bug, to surface as it is). ``hint`` is the way around the Hub."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    chain = list(_causes(error))
    gated = next((e for e in chain if isinstance(e, GatedRepoError)), None)
    if gated is not None:
        if _status(gated) == 403:
            return ModelUnavailable(f"{repo_id} is gated and your Hugging Face token has no access to it",
                                    f"accept its terms on its Hub page ({repo_id}), then try again")
        return ModelUnavailable(f"{repo_id} is gated: the Hub needs your Hugging Face token to download it",
                                "run `parrot login` (or set HF_TOKEN) after accepting its terms on its Hub page",
                                "run /login (or set HF_TOKEN) after accepting its terms on its Hub page")
    if any(isinstance(e, RepositoryNotFoundError) for e in chain) or _no_data_files(chain):
        return ModelUnavailable(f"there is no dataset {repo_id} on the Hub (or it is private)",
                                f"check the name; a private dataset needs `parrot login` first; or {hint}",
                                f"check the name; a private dataset needs /login first; or {hint}")
    if any(isinstance(e, OfflineModeIsEnabled) for e in chain) or offline_variable():
        offline = offline_variable() or "HF_HUB_OFFLINE"
        return ModelUnavailable(f"could not load {repo_id}: offline mode is set ({offline}=1)",
                                f"unset {offline} to read it from the Hub, or {hint}")
    status = next((_status(e) for e in chain if isinstance(e, HfHubHTTPError) and _status(e)), None)
    if status is not None:
        return ModelUnavailable(f"the Hub answered {status} for {repo_id}", f"try again in a moment, or {hint}")
    if any(_is_network(e) for e in chain):
        return ModelUnavailable(f"the download of {repo_id} broke off ({short(chain[-1])})",
                                f"run the same command again (what arrived is kept in the cache), or {hint}")
    return None


def short(error: BaseException) -> str:
    """``ReadTimeout: timed out``: the error's name and first line, without any URL's signed query."""
    first = (str(error).strip().splitlines() or [""])[0]
    first = re.sub(r"(https?://[^\s'\"?]+)\?[^\s'\"]*", r"\1", first)[:160]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(error: Any) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def _no_data_files(chain: list[BaseException]) -> bool:
    # What datasets says when a glob over a repo that does not exist matches nothing.
    return any(isinstance(e, (ValueError, FileNotFoundError)) and "data_files" in str(e) for e in chain)


def _is_network(error: BaseException) -> bool:
    return (type(error).__module__.split(".")[0] in NETWORK_MODULES
            or isinstance(error, (ConnectionError, TimeoutError)))
