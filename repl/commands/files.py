"""``/file PATH...``: queue files for the next prompt (``@path`` in a prompt does the same inline)."""

from __future__ import annotations

from backends.errors import UsageError

from ..chat.attachment_budget import measure
from ..chat.attachments import read_all
from .context import Context
from .table import command


@command("file", "/file PATH...|none", "attach files to the next prompt (globs and ~ work; @path in a prompt too)",
         aliases=("attach",))
def file_(ctx: Context, args: list[str]) -> None:
    session = ctx.session
    if args == ["none"]:
        dropped = len(session.pending_files)
        session.pending_files = []
        ctx.ui.show(f"dropped {dropped} queued file(s)")
        return
    if args:
        added = read_all(args)  # one refused file refuses the whole command: nothing half-queued
        known = {a.path for a in session.pending_files}
        session.pending_files = session.pending_files + [a for a in added if a.path not in known]
    if not session.pending_files:
        raise UsageError("no files are queued", "give a path: /file src/main.py, or write @path in a prompt")
    ctx.ui.show(measure(session, "", session.pending_files).line() + " · they go with your next prompt")
