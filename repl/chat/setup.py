"""A session's set-up, the same in every mode: the backend and settings, the history store attached once,
and ``--continue`` taking up the last stored conversation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from backends.settings import GenerationSettings

from ..history.store import HistoryStore
from .session import Conversation, Session


@dataclass
class Setup:
    session: Session
    store: HistoryStore
    notices: list[str]  # what the mode says once at the start: a damaged or read-only history


def open_session(backend_name: str, model: str | None, settings: GenerationSettings, options: dict[str, Any], *,
                 progress: Callable[[str], None] | None = None, note: Callable[[str], None] | None = None,
                 store: HistoryStore | None = None) -> Setup:
    """A Session on ``backend_name`` and ``model``, every turn of it stored in ``store`` (the default history)."""
    session = Session(backend_name, model, settings, progress=progress, note=note, **options)
    store = store if store is not None else HistoryStore()
    store.attach(session)
    return Setup(session, store, list(store.notices))


def resume_last(setup: Setup) -> Conversation | None:
    """``--continue``: the last stored conversation becomes the session's; None when there is none yet."""
    last = setup.store.last_id()
    if last is None:
        return None
    setup.session.conversation = setup.store.load(last)
    return setup.session.conversation
