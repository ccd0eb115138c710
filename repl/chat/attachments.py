"""Files brought into a prompt: ``/file PATH...`` and ``@path`` inside the prompt itself.

Each file goes into the message as its name and a fenced block tagged with its language, so the
model sees what a person would paste. What is refused is refused in one line: directories, binary
or non-UTF-8 files, unreadable files, anything that is not a regular file (a FIFO would block the
chat forever, /dev/zero never ends) and files over the size limit. A turn keeps a record of what
was attached (path, size, SHA-256); the text itself is part of the message, so /retry re-sends the
same content even if the file has changed since.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..safe_files import FileRefused, read_bytes, size_text

MAX_BYTES = 256 * 1024  # ~60k tokens of code: more than any window parrot's models have
# `@path` outside code fences; the characters a path is usually written with, so that a pasted
# `@app.route("/x")` or an e-mail address is not taken for a file.
MENTION = re.compile(r"(?<![\w@])@((?:~|\.{1,2})?[\w./+\-]*[\w/])")
FENCE_LINE = re.compile(r"^\s*(```|~~~)")


class AttachmentError(FileRefused):
    """A file that cannot go into a prompt; the message says which and why."""


@dataclass(frozen=True)
class Attachment:
    """One file's text as it was when attached, with the name it is shown under."""

    path: str
    text: str
    size: int
    sha256: str

    @classmethod
    def from_text(cls, path: str, text: str) -> "Attachment":
        data = text.encode("utf-8")
        return cls(path, text, len(data), hashlib.sha256(data).hexdigest())

    @property
    def language(self) -> str:
        return language_for(self.path)

    def block(self) -> str:
        """The file as it goes into the message: its name, then a fenced block in its language."""
        longest = max((len(run) for run in re.findall(r"`+", self.text)), default=0)
        fence = "`" * max(3, longest + 1)  # a fence the file's own ``` cannot close
        return f"{self.path}:\n{fence}{self.language}\n{self.text.rstrip(chr(10))}\n{fence}"

    def record(self) -> dict:
        """What the stored turn keeps: enough to tell later which version of which file it saw."""
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def language_for(path: str) -> str:
    """The fence tag for a file name (pygments' short name: ``python``, ``javascript``), or ''."""
    from pygments.lexers import find_lexer_class_for_filename

    lexer = find_lexer_class_for_filename(os.path.basename(path))
    return lexer.aliases[0] if lexer is not None and lexer.aliases else ""


def read_regular_text(path: Path, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes; AttachmentError otherwise."""
    name = str(path)
    try:
        data = read_bytes(path, "file attached to a prompt", limit,
                          folder_hint=f"attach the files in it with a glob, e.g. /file {name.rstrip('/')}/*.py")
    except FileRefused as error:
        hint = "check the path; Tab completes it" if error.message.startswith("no such file") else error.hint
        raise AttachmentError(error.message, hint) from None
    if b"\0" in data:
        raise AttachmentError(f"{name} is a binary file", "attach text files only")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AttachmentError(f"{name} is not UTF-8 text", "convert it to UTF-8 or attach text files only") from None


def read_attachment(path: str, limit: int = MAX_BYTES) -> Attachment:
    """Read one file (``~`` expanded) into an Attachment shown under the name it was given."""
    return Attachment.from_text(path, read_regular_text(Path(path).expanduser(), limit))


def expand(patterns: list[str]) -> list[str]:
    """Paths for ``/file`` arguments: ``~`` expanded, globs (``**`` too) matched in sorted order.

    A glob's directories are skipped (``src/*`` means its files); a glob that matches nothing, or
    only directories, is an error, as is a path named outright that is not a file.
    """
    found: list[str] = []
    for pattern in patterns:
        if not glob.has_magic(pattern):
            found.append(pattern)
            continue
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        files = [m for m in matches if not os.path.isdir(m)]
        if not files:
            raise AttachmentError(f"no file matches {pattern}", "check the pattern; Tab completes paths")
        found.extend(files)
    return list(dict.fromkeys(found))  # the same file once, even if two patterns name it


def read_all(patterns: list[str], limit: int = MAX_BYTES) -> list[Attachment]:
    """Every file the patterns name, read now; the first file that is refused stops all of them."""
    return [read_attachment(path, limit) for path in expand(patterns)]


def mentions(prompt: str) -> list[str]:
    """The ``@path`` words of a prompt that name a file, outside fenced code blocks.

    A word that names nothing on disk stays text (``@dataclass`` in a question about Python),
    unless it is plainly a path (it has a ``/`` or starts with ``~``): then it is an error.
    """
    found: list[str] = []
    in_fence = False
    for line in prompt.splitlines():
        if FENCE_LINE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for match in MENTION.finditer(line):
            word = match.group(1)
            if os.path.lexists(os.path.expanduser(word)) or "/" in word or word.startswith("~"):
                found.append(word)
    return list(dict.fromkeys(found))


def compose(prompt: str, attachments: list[Attachment]) -> str:
    """The message the model gets: each file's block, then the prompt, as a person would paste them."""
    parts = [a.block() for a in attachments]
    if prompt.strip():
        parts.append(prompt)
    return "\n\n".join(parts)


def split_composed(content: str, records: list[dict]) -> tuple[str, list[Attachment]]:
    """Undo ``compose``: the prompt as typed and the files as they were attached (for /edit)."""
    files: list[Attachment] = []
    rest = content
    for record in records:
        match = re.match(rf"{re.escape(record['path'])}:\n(`{{3,}})[^\n]*\n(.*?)\n\1(?:\n\n|$)", rest, re.S)
        if match is None:
            return content, []  # not in the composed shape (a hand-edited file): give it back whole
        text = match.group(2)
        files.append(Attachment.from_text(record["path"], text + ("\n" if record.get("size", 0) > len(text) else "")))
        rest = rest[match.end():]
    return rest, files


def gather(prompt: str, pending: list[Attachment], limit: int = MAX_BYTES) -> list[Attachment]:
    """The files for one prompt: those queued with /file, then each ``@path`` it mentions."""
    queued = {a.path for a in pending}
    return list(pending) + [read_attachment(p, limit) for p in mentions(prompt) if p not in queued]


def summary(attachments: list[Attachment]) -> str:
    """'a.py (1.2 KiB), b.md (310 bytes)' for notes and the line under a prompt."""
    return ", ".join(f"{a.path} ({size_text(a.size)})" for a in attachments)


def word_to_complete(text: str) -> str | None:
    """The path being typed at the end of ``text`` (after ``/file `` or an ``@``), or None."""
    line = text.rsplit("\n", 1)[-1]
    word = "" if not line or line[-1].isspace() else line.split()[-1]
    if re.match(r"/(file|attach)\s", text):
        return word
    if word.startswith("@") and re.fullmatch(r"[\w./+~\-]*", word[1:]):
        return word[1:]
    return None


def path_completions(fragment: str, limit: int = 50) -> list[str]:
    """Paths that start with ``fragment`` (``~`` kept as typed); folders end with '/'."""
    expanded = os.path.expanduser(fragment)
    head, _, _ = fragment.rpartition("/")
    try:
        candidates = sorted(glob.glob(glob.escape(expanded) + "*"))
    except OSError:
        return []
    results = []
    for candidate in candidates[:limit]:
        name = os.path.basename(candidate)
        if name.startswith(".") and not os.path.basename(expanded).startswith("."):
            continue  # hidden files only when asked for, as shells do
        shown = f"{head}/{name}" if head or fragment.startswith("/") else name
        results.append(shown + ("/" if os.path.isdir(candidate) else ""))
    return results
