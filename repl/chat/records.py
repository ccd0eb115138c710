"""A turn as JSON-ready data and back: the one converter for saved files, kept branches and the history store.

Reading is strict about the shape a turn needs (a role and a text) and forgiving about the rest: unknown
keys are dropped, a malformed attachment record is left out, so a hand-edited or older file still loads.
"""

from __future__ import annotations

from typing import Any

from backends.base import Message
from backends.reply import GenerationStats
from backends.settings import GenerationSettings

from .session import Turn

ROLES = ("system", "user", "assistant")


def turn_record(turn: Turn) -> dict:
    """A turn as JSON-ready data (exports, saved files, kept branches)."""
    record: dict = {"role": turn.message.role, "content": turn.message.content, "created": turn.created}
    if turn.stats is not None:
        record["stats"] = turn.stats.to_dict()
        record["cut_off"] = turn.cut_off
    if turn.settings is not None:
        record["settings"] = turn.settings.to_dict()
    if turn.attachments:
        record["attachments"] = turn.attachments
    return record


def turn_from_record(record: Any) -> Turn:
    """The turn ``record`` holds; ValueError (or SettingsError) names what is wrong with its shape."""
    if not isinstance(record, dict) or record.get("role") not in ROLES or not isinstance(record.get("content"), str):
        raise ValueError("a turn has no role and content")
    stats = record.get("stats")
    settings = record.get("settings")
    created = record.get("created", 0.0)
    return Turn(Message(record["role"], record["content"]),
                GenerationStats(**{k: v for k, v in stats.items() if k in GenerationStats.__dataclass_fields__
                                   and k != "tokens_per_second"}) if isinstance(stats, dict) and stats else None,
                GenerationSettings.from_dict(settings) if isinstance(settings, dict) and settings else None,
                created=created if isinstance(created, (int, float)) else 0.0,
                attachments=_attachment_records(record.get("attachments")))


def _attachment_records(value: Any) -> list[dict]:
    """Well-formed attachment records only (the file may be hand-edited)."""
    if not isinstance(value, list):
        return []
    return [{"path": str(a["path"]), "size": int(a["size"]), "sha256": str(a["sha256"])} for a in value
            if isinstance(a, dict) and {"path", "size", "sha256"} <= set(a)]
