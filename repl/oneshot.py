"""Pipe mode: answer once on stdout. Only the answer goes to stdout; everything else to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from backends.base import Message
from backends.errors import BackendError, ParrotError, UsageError
from backends.settings import GenerationSettings


def read_stdin(stream: Any = None, err: TextIO | None = None) -> str:
    """Read all of stdin as UTF-8; invalid bytes become U+FFFD and are reported, never a traceback."""
    stream = stream if stream is not None else sys.stdin.buffer
    err = err or sys.stderr
    data = stream.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
        print(f"parrot: stdin is not valid UTF-8; {bad} invalid byte sequence(s) were replaced with U+FFFD",
              file=err)
        return text


def compose(prompt: str | None, piped: str | None) -> str:
    """Piped text first, then the question, as a person would paste a file and ask about it."""
    parts = [p for p in (piped.rstrip("\n") if piped else None, prompt) if p and p.strip()]
    if not parts:
        raise UsageError("nothing to answer: the prompt and stdin are empty", "pass a prompt or pipe text in")
    return "\n\n".join(parts)


def answer_once(backend_name: str, model: str | None, settings: GenerationSettings, options: dict[str, Any],
                prompt: str | None, piped: str | None, *, as_json: bool = False, quiet: bool = False,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Stream one answer to ``out``; return the exit code (0 ok, 1 backend failure)."""
    from backends import registry

    out, err = out or sys.stdout, err or sys.stderr
    text = compose(prompt, piped)
    interactive_err = hasattr(err, "isatty") and err.isatty() and not quiet
    if not interactive_err:
        _silence_progress_bars()

    def progress(message: str) -> None:
        if interactive_err:
            print(f"parrot: {message}", file=err, flush=True)

    backend = registry.create(backend_name, model, progress=progress, **options)
    messages = [Message("user", text)]
    reply = backend.stream(messages, settings)
    try:
        for chunk in reply:
            if not as_json:
                out.write(chunk)
                out.flush()
    except (ParrotError, BrokenPipeError):
        raise
    except Exception as error:  # a crash inside a backend is a backend failure, reported in one line
        raise BackendError(f"{backend_name} failed: {type(error).__name__}: {error}") from error
    if as_json:
        json.dump({"text": reply.text, "backend": backend_name, "model": reply.stats.model or model,
                   "finish_reason": reply.stats.finish_reason, "stats": reply.stats.to_dict(),
                   "settings": settings.to_dict()}, out, ensure_ascii=False)
        out.write("\n")
    elif reply.text and not reply.text.endswith("\n"):
        out.write("\n")
    out.flush()
    if reply.stats.dropped_messages or reply.stats.dropped_tokens:
        print(f"parrot: the prompt was longer than the context window; {reply.stats.dropped_tokens} "
              "token(s) were cut from its beginning", file=err)
    return 0


def _silence_progress_bars() -> None:
    # tqdm reads TQDM_* once, when it is first imported: set it before transformers loads it.
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
