"""Pipe mode: answer once on stdout. Only the answer goes to stdout; everything else to stderr."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from backends.base import Message
from backends.errors import ParrotError, UsageError
from backends.settings import GenerationSettings

from .. import safe_files
from ..chat.replies import end_note, run_reply
from ..crash import unexpected
from ..views import library_bars
from ..views.terminal_text import for_stream, neutral, same_terminal
from ..views.wait_line import WaitLine, download_bar, waiting_for

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

    # Until the first word: what the reply waits for (loading, the prompt being read), one line in place.
    wait = WaitLine(err, enabled=interactive_err)

    def progress(message: str) -> None:
        if getattr(message, "fraction", None) is not None:  # a counted line (a download) drawn as a bar, not a scroll
            wait.show(download_bar(message))
        elif interactive_err:  # converting or reading a model: the library's own bar may draw on this line
            wait.show(message, tick=False)

    backend = registry.create(backend_name, model, progress=progress, **options)
    messages = [Message("user", text)]

    last = [""]  # the last piece written to stdout
    begun = threading.Event()

    def write(chunk: str) -> None:
        if chunk and not begun.is_set():  # the answer begins: on the same screen the waiting line gives way
            begun.set()
            if same_terminal(out, err) and not as_json:
                wait.clear()
            else:
                wait.show("answering")  # stdout is a file or a pipe, or the JSON comes at the end
        if not as_json:
            out.write(for_stream(out, chunk))  # escape sequences from the model act only on a file
            out.flush()
            last[0] = chunk

    def note(message: str) -> None:  # a cut prompt before the answer begins, an ignored setting after it
        if last[0] and not last[0].endswith("\n") and same_terminal(out, err):
            write("\n")  # on one screen, a note never runs on from the answer's last line
        wait.note(f"parrot: {neutral(message)}")

    def started(reply: Any) -> None:  # the model is ready and the prompt fitted: now it is read (prefill)
        count = reply.stats.prompt_tokens
        wait.show(f"reading the prompt ({count:,} tokens)" if count else "waiting for the first token")

    wait.show(waiting_for(backend))
    reply = backend.stream(messages, settings)
    failure: BaseException | None = None
    try:
        run_reply(lambda: reply, write, note, started)
    except BrokenPipeError:
        raise
    except (ParrotError, KeyboardInterrupt) as error:
        failure = error
    except Exception as error:  # a crash inside a backend: one line, the traceback in the log
        failure = unexpected(error, backend_name)
        failure.__cause__ = error
    finally:
        wait.clear()
    if failure is None and (limit := end_note(reply.stats, reply.settings or settings, in_chat=False)):
        note(limit)
    if as_json:  # one object whatever happened: the text that arrived is never lost
        json.dump(json_result(reply, backend_name, model, settings, failure), out, ensure_ascii=False)
        out.write("\n")
    elif last[0] and not last[0].endswith("\n"):
        out.write("\n")  # also before an error: the error (on stderr) starts a line of its own
    out.flush()
    if failure is not None:
        raise failure
    return 0


def json_result(reply: Any, backend_name: str, model: str | None, settings: GenerationSettings,
                failure: BaseException | None) -> dict[str, Any]:
    """The --json object: the text (partial if the reply failed), how it ended, counts, settings, the error."""
    stats = reply.stats.to_dict()
    if not stats["prompt_tokens"]:
        stats["prompt_tokens"] = None  # the server said nothing: unknown, not zero (no prompt is empty)
    if isinstance(failure, KeyboardInterrupt):
        error, reason = "interrupted", "cancelled"
    else:
        error, reason = (str(failure) if failure is not None else None), reply.stats.finish_reason
    return {"text": reply.text, "backend": backend_name, "model": reply.stats.model or model,
            "finish_reason": reason, "error": error, "stats": stats,
            "settings": (reply.settings or settings).to_dict()}  # as decoded: per-mode defaults filled

