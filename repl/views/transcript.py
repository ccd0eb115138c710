"""A conversation written out: Markdown for people (/export md, ``parrot history ID``), JSON lines for programs.

The Markdown stays valid whatever the turns hold: a reply cut off inside a code block gets its fence
closed, so the headings after it are not read as code. A prompt shows as it was typed, with the files
that went with it named (path and size); their text, which the model saw, is in the JSON lines.
"""

from __future__ import annotations

import json
import re

from ..chat.attachments import split_composed
from ..chat.branches import own_turns, parting
from ..chat.records import turn_record
from ..chat.session import Conversation, Turn
from ..safe_files import size_text

# An opening or closing fence (CommonMark): up to three spaces, then three or more backticks or tildes.
FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def open_fence(text: str) -> str | None:
    """The fence a Markdown text leaves open at its end (``` or ~~~~, as it was opened), or None."""
    fence: str | None = None
    for line in text.split("\n"):
        match = FENCE_LINE.match(line)
        if match is None:
            continue
        marks, rest = match.groups()
        if fence is None:
            if not (marks[0] == "`" and "`" in rest):  # a backtick fence's info string holds no backtick
                fence = marks
        elif marks[0] == fence[0] and len(marks) >= len(fence) and not rest.strip():
            fence = None
    return fence


def closed(text: str) -> str:
    """``text`` with a fence it leaves open closed on a line of its own."""
    fence = open_fence(text)
    return f"{text.rstrip(chr(10))}\n{fence}" if fence else text


def turn_markdown(turn: Turn) -> str:
    """One turn as a section: who (and which model), the files a prompt brought, the text, how it ended."""
    head = turn.message.role
    if turn.stats is not None:
        head += f" ({turn.stats.model or turn.stats.backend})"
    text, files = split_composed(turn.message.content, turn.attachments)
    parts = [f"## {head}\n"]
    if files:
        parts.append("".join(f"- attached `{f.path}` ({size_text(f.size)})\n" for f in files))
    elif turn.attachments:  # a prompt whose text no longer has the composed shape: named, and shown whole
        parts.append("".join(f"- attached `{a['path']}` ({size_text(a['size'])})\n" for a in turn.attachments))
    if text.strip():
        parts.append(f"{closed(text.rstrip())}\n")
    if turn.cut_off:
        parts.append(f"*cut off: {turn.stats.finish_reason}*\n")
    return "\n".join(parts)


def as_markdown(conversation: Conversation) -> str:
    """The current path of ``conversation`` as a Markdown document."""
    return "\n".join([f"# {conversation.title or 'parrot conversation'}\n",
                      *(turn_markdown(turn) for turn in conversation.turns)])


def as_jsonl(conversation: Conversation) -> str:
    """The current path, one JSON record per turn (the prompt as the model got it, files included)."""
    return "".join(json.dumps(turn_record(t), ensure_ascii=False) + "\n" for t in conversation.turns)


def parts_at(conversation: Conversation, branch) -> str:
    """Where a kept branch differs from the current path, as /edit numbers prompts: 'prompt 2', 'reply 2'."""
    shared = parting(conversation, branch)
    if shared >= len(branch.turns):
        return ""
    prompts = sum(1 for t in branch.turns[:shared] if t.message.role == "user")
    first = branch.turns[shared].message.role
    return f"prompt {prompts + 1}" if first == "user" else f"reply {prompts}" if first == "assistant" else "the start"


def branches_text(conversation: Conversation, kind: str) -> str:
    """The kept branches, each from where it differs: Markdown sections, or JSON lines marked with their
    branch and the number of turns (``fork``) it shares with the current path."""
    parts = []
    for branch in sorted(conversation.branches, key=lambda b: b.number):
        turns = own_turns(conversation, branch)
        if kind == "md":
            parts.append(f"\n# branch {branch.number} (differs at {parts_at(conversation, branch)})\n")
            parts.extend(turn_markdown(t) for t in turns)
        else:
            fork = parting(conversation, branch)
            parts.extend(json.dumps({**turn_record(t), "branch": branch.number, "fork": fork}, ensure_ascii=False)
                         + "\n" for t in turns)
    return "\n".join(parts) if kind == "md" else "".join(parts)
