"""Pipe mode: answer once on stdout. Only the answer goes to stdout; everything else to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from backends.base import Message
from backends.errors import ParrotError, UsageError
from backends.loading.hub import DownloadProgress
from backends.settings import GenerationSettings

from .. import safe_files
from ..chat.replies import describe_prefill, run_reply
from ..crash import unexpected
from ..views import library_bars
from ..views.terminal_text import for_stream, in_place, neutral, same_terminal

STDIN_LIMIT = 16 * safe_files.MB  # `parrot < /dev/zero` must end: past this, stdin is refused


def read_stdin(stream: Any = None, err: TextIO | None = None) -> str:
    """Read stdin as UTF-8, at most STDIN_LIMIT bytes; invalid bytes become U+FFFD and are reported."""
    stream = stream if stream is not None else sys.stdin.buffer
    err = err or sys.stderr
    data = safe_files.read_stream(stream, "stdin", STDIN_LIMIT)
    return safe_files.decode(data, "stdin", lambda message: print(f"parrot: {message}", file=err))


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
        library_bars.silence()

    def progress(message: str) -> None:
        if not interactive_err:
            return
        if isinstance(message, DownloadProgress):  # one line redrawn in place: a bar, not a scroll of lines
            end = "\n" if message.done >= message.total else ""
            print(f"\rparrot: {download_bar(message)}", end=end, file=err, flush=True)
        else:
            print(f"parrot: {message}", file=err, flush=True)

    backend = registry.create(backend_name, model, progress=progress, **options)
    messages = [Message("user", text)]

    last = [""]  # the last piece written to stdout

    def write(chunk: str) -> None:
        if not as_json:
            out.write(for_stream(out, chunk))  # escape sequences from the model act only on a file
            out.flush()
            last[0] = chunk

    def note(message: str) -> None:  # a cut prompt before the answer begins, an ignored setting after it
        if last[0] and not last[0].endswith("\n") and same_terminal(out, err):
            write("\n")  # on one screen, a note never runs on from the answer's last line
        print(f"parrot: {neutral(message)}", file=err, flush=True)

    def prefilled(line: Any) -> None:  # a long prompt being read, in place (a minute or more on a busy CPU)
        if not quiet:
            in_place(err, None if line.done >= line.total else f"parrot: {describe_prefill(line)} (Ctrl-C stops)")

    try:
        reply = run_reply(lambda: backend.stream(messages, settings), write, note, on_prefill=prefilled)
    except (ParrotError, BrokenPipeError):
        raise
    except Exception as error:  # a crash inside a backend: one line, the traceback in the log
        raise unexpected(error, backend_name) from error
    if as_json:
        json.dump({"text": reply.text, "backend": backend_name, "model": reply.stats.model or model,
                   "finish_reason": reply.stats.finish_reason, "stats": reply.stats.to_dict(),
                   "settings": (reply.settings or settings).to_dict()},  # as decoded: per-mode defaults filled
                  out, ensure_ascii=False)
        out.write("\n")
    elif last[0] and not last[0].endswith("\n"):
        out.write("\n")
    out.flush()
    return 0


def download_bar(line: DownloadProgress, width: int = 24) -> str:
    """``downloading org/id: [#########...] 40% (1.2 of 3.0 MB)`` for a terminal."""
    filled = round(width * line.fraction)
    name, _, rest = line.partition(": ")
    return f"{name}: [{'#' * filled}{'.' * (width - filled)}] {rest}"
