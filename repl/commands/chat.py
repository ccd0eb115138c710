"""Commands on the conversation itself: start over, switch model, retry, continue, history, export, copy.

The history store is the session's own (``ctx.session.history``); the clipboard is a per-mode
service from ``ctx.clipboard`` (a function that copies text). A mode that lacks one gets a usage
error that says where the command works.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from backends import registry
from backends.errors import ParrotError, UsageError
from backends.hosted.httpclient import check_base_url
from backends.one_line import one_line

from .. import safe_files
from ..chat.records import turn_from_record, turn_record
from ..chat.session import Conversation
from ..chat.setup import restore
from ..views.history_tables import conversations_table, search_table  # noqa: F401  (parrot history prints them too)
from ..views.transcript import as_jsonl, as_markdown, branches_text
from .context import Context
from .table import command, require


def _store(ctx: Context):
    store = ctx.session.history
    if store is None:
        raise UsageError("history is not available here")
    return store


@command("clear", "/clear", "clear the screen (the conversation goes on)")
def clear_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    ctx.ui.clear()


@command("new", "/new", "start a new conversation (the old one stays in /history)")
def new_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    ctx.session.conversation = Conversation()
    ctx.ui.clear()
    ctx.ui.show("new conversation")


@command("system", "/system [TEXT|none]", "show or set the system prompt for chat models")
def system_(ctx: Context, args: list[str]) -> None:
    if not args:
        ctx.ui.show(f"system prompt: {ctx.session.settings.system or '(the model default)'}")
        return
    text = " ".join(args)
    ctx.session.settings = ctx.session.settings.updated_from_text({"system": text})
    ctx.ui.show(f"system prompt: {ctx.session.settings.system or '(the model default)'}")


@command("backend", "/backend [NAME] [URL] [MODEL]",
         "show or switch the backend (the conversation is kept); openai takes the server's URL",
         arguments=tuple(registry.BACKENDS))
def backend_(ctx: Context, args: list[str]) -> None:
    require(args, (0, 3))
    if not args:
        names = ", ".join(f"{n}{' (in use)' if n == ctx.session.backend_name else ''}" for n in registry.BACKENDS)
        ctx.ui.show(f"backends: {names}")
        return
    name, rest = args[0], args[1:]
    urls = [a for a in rest if a.startswith(("http://", "https://"))]
    models = [a for a in rest if a not in urls]
    if len(urls) > 1 or len(models) > 1:
        raise UsageError("give at most one URL and one model")
    if urls and name != "openai":  # hf never sends its token elsewhere; local has no server
        raise UsageError(f"the {name} backend takes no URL", "a server's URL goes with /backend openai URL")
    options = {"base_url": check_base_url(urls[0])} if urls else {}
    ctx.session.use_backend(name, models[0] if models else None, **options)
    where = f" at {urls[0]}" if urls else ""
    ctx.ui.show(f"backend: {name}{where}, model: {ctx.session.model or 'its default'}")


@command("model", "/model [NAME]", "show or switch the model (the conversation is kept)")
def model_(ctx: Context, args: list[str]) -> None:
    require(args, (0, 1))
    if not args:
        ctx.ui.show(f"model: {ctx.session.model or 'the default'} ({ctx.session.backend_name})")
        return
    ctx.session.use_backend(ctx.session.backend_name, args[0])
    # A mode that loads in the background says this after loading worked, so a failure is the one word.
    getattr(ctx.ui, "after_load", ctx.ui.show)(f"model: {args[0]} (the conversation is kept)")


@command("retry", "/retry", "answer the last prompt again (a sampled reply gets a new seed)")
def retry_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    turns = ctx.session.conversation.turns
    if not any(t.message.role == "user" for t in turns):
        raise UsageError("there is no prompt to retry yet", "type a prompt first")
    from ..chat.branches import fork

    replies_from = max(i for i, t in enumerate(turns) if t.message.role == "user") + 1
    fork(ctx.session, replies_from)  # the reply it replaces stays as a branch
    ctx.ui.generate()


@command("continue", "/continue", "extend the last reply (one that was cut off or hit the length limit)",
         aliases=("cont",))
def continue_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    last = ctx.session.conversation.turns[-1] if ctx.session.conversation.turns else None
    if last is None or last.message.role != "assistant":
        raise UsageError("there is no reply to continue", "/continue extends the last answer")
    ctx.ui.generate()


@command("undo", "/undo", "forget the last prompt and its reply")
def undo_(ctx: Context, args: list[str]) -> None:
    require(args, 0)
    turns = ctx.session.conversation.turns
    users = [i for i, t in enumerate(turns) if t.message.role == "user"]
    if not users:
        raise UsageError("there is nothing to undo")
    dropped = ctx.session.conversation.truncate(users[-1])
    ctx.ui.show(f"forgot {len(dropped)} message(s): {one_line(dropped[0].message.content, 50)}")


@command("history", "/history [N|TEXT]", "list recent conversations, or find those that mention TEXT (/load ID)")
def history_(ctx: Context, args: list[str]) -> None:
    if len(args) == 1 and args[0].lstrip("+-").isdigit():  # a count, even a wrong one (-3 is not a search)
        ctx.ui.show(conversations_table(_store(ctx).conversations(_int(args[0], "N")), ctx.session.conversation.id))
    elif args:
        text = " ".join(args)
        ctx.ui.show(search_table(_store(ctx).search(text), text, ctx.session.conversation.id))
    else:
        ctx.ui.show(conversations_table(_store(ctx).conversations(20), ctx.session.conversation.id))


@command("load", "/load ID|PATH", "resume a conversation from /history, or a file written by /save PATH")
def load_(ctx: Context, args: list[str]) -> None:
    require(args, 1)
    if args[0].isascii() and args[0].isdigit():  # "²".isdigit() is True too
        number = int(args[0])
        if number >= 2**63:  # beyond SQLite's integers: no such row can exist
            raise UsageError(f"there is no conversation {args[0]}", "/history lists them")
        conversation = _store(ctx).load(number)
    else:
        conversation = read_saved(Path(args[0]).expanduser())
    restored = restore(ctx.session, conversation)  # on the backend, model and settings of its last reply
    if conversation.id is None:
        conversation.announce()  # a loaded file becomes a new stored conversation
    ctx.ui.clear()
    ctx.ui.show(f"loaded conversation {conversation.id or ''} ({len(conversation.turns)} messages): {restored}")


@command("save", "/save [PATH]", "say where the conversation is stored, or also write it to a JSON file")
def save_(ctx: Context, args: list[str]) -> None:
    require(args, (0, 1))
    conversation = ctx.session.conversation
    if not conversation.turns:
        raise UsageError("the conversation is empty", "type a prompt first")
    if args:
        path = safe_files.write_text(args[0], json.dumps(saved_form(conversation), indent=2, ensure_ascii=False) + "\n")
        ctx.ui.show(f"saved {len(conversation.turns)} messages to {os.path.abspath(path)} (/load {path} reads it back)")
    elif conversation.id is not None:
        ctx.ui.show(f"saved as conversation {conversation.id} (every turn is stored as it happens)")
    else:
        raise UsageError("history is not available here", "give a PATH to write a file")


@command("export", "/export md|jsonl [PATH] [--all]",
         "write the conversation (the current branch; --all: every branch) as Markdown or JSON lines",
         arguments=("md", "jsonl"))
def export_(ctx: Context, args: list[str]) -> None:
    every_branch = "--all" in args
    args = [a for a in args if a != "--all"]
    require(args, (1, 2))
    kind = args[0].lower()
    if kind not in {"md", "jsonl"}:
        raise UsageError(f"unknown export format {args[0]!r}", "use md or jsonl")
    conversation = ctx.session.conversation
    if not conversation.turns:
        raise UsageError("the conversation is empty", "type a prompt first")
    path = args[1] if len(args) > 1 else default_export_path(conversation, kind)
    text = as_markdown(conversation) if kind == "md" else as_jsonl(conversation)
    if every_branch:
        text += branches_text(conversation, kind)
    path = safe_files.write_text(path, text)
    ctx.ui.show(f"wrote {os.path.abspath(path)}")  # the whole path: the chat's folder is not always the shell's


def default_export_path(conversation: Conversation, kind: str) -> Path:
    """Without a path, exports go to one folder of their own, each named by its conversation (or the time)."""
    from backends.paths import exports_dir

    folder = exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"conversation-{conversation.id}" if conversation.id is not None else time.strftime("chat-%Y%m%d-%H%M%S")
    return folder / f"{name}.{kind}"


@command("copy", "/copy [code]", "copy the last answer, or its last code block, to the clipboard",
         arguments=("code",))
def copy_(ctx: Context, args: list[str]) -> None:
    require(args, (0, 1))
    if args and args[0] != "code":
        raise UsageError(f"unknown argument {args[0]!r}", "use /copy or /copy code")
    clipboard = ctx.clipboard
    if clipboard is None:
        raise UsageError("there is no clipboard here", "use /copy in the terminal app or the plain REPL")
    last = ctx.session.conversation.last("assistant")
    if last is None:
        raise UsageError("there is no answer to copy yet")
    text = last.message.content
    if args:
        blocks = code_blocks(text)
        if not blocks:
            raise UsageError("the last answer has no code block", "use /copy for the whole answer")
        text = blocks[-1]
    ctx.ui.show(clipboard(text))  # where the text went: a clipboard tool, tmux's buffer, or only a request


# -- formats -------------------------------------------------------------------------------------

FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)(?:^\1[ \t]*$|\Z)", re.S | re.M)


def code_blocks(markdown: str) -> list[str]:
    """The contents of fenced code blocks, in order (an unclosed last fence counts too)."""
    return [m.group(2).rstrip("\n") for m in FENCE.finditer(markdown)]


def saved_form(conversation: Conversation) -> dict:
    return {"format": "parrot-conversation/1", "title": conversation.title,
            "turns": [turn_record(t) for t in conversation.turns]}


SAVED_LIMIT = 64 * safe_files.MB


def read_saved(path: Path) -> Conversation:
    """Read a file written by /save PATH; anything else is refused in one line."""
    text = safe_files.read_text(path, "conversation file", SAVED_LIMIT)
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
            raise ValueError("it has no list of turns")
        turns = []
        for number, record in enumerate(data["turns"], start=1):
            try:
                turns.append(turn_from_record(record))
            except ValueError:
                raise ValueError(f"turn {number} has no role and content") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} is not a conversation saved by /save: not JSON (line {error.lineno})") from None
    except ParrotError as error:
        raise UsageError(f"{path} is not a conversation saved by /save: {error.message}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        reason = str(error) if isinstance(error, ValueError) else "its turns are not in the /save format"
        raise UsageError(f"{path} is not a conversation saved by /save: {reason}") from None
    title = data.get("title")
    return Conversation(turns=turns, title=title if isinstance(title, str) else "")


def _int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {text!r}") from None
    if value < 1:
        raise UsageError(f"{name} must be at least 1")
    return min(value, 1_000_000)  # more than any history holds; SQLite refuses integers past 2**63
