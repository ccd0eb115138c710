"""A session's set-up, the same in every mode: the backend and settings, the history store attached once,
and taking up a stored conversation (``--continue``, ``/load``) where it was left.

Taking a conversation up restores what its last reply was made with, as ``llm -c`` does: the backend,
the model and the settings each turn stores. What the command line named outright wins (``parrot -c -m
codeparrot`` answers with codeparrot), and the seed is drawn afresh, as it is for every sampled reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from backends.errors import ParrotError
from backends.one_line import one_line
from backends.settings import SPECS, GenerationSettings, shown_value

from ..history.store import HistoryStore
from .session import Conversation, Session


@dataclass
class Setup:
    session: Session
    store: HistoryStore
    notices: list[str]  # what the mode says once at the start: a damaged or read-only history


@dataclass(frozen=True)
class Resume:
    """``--continue``, with the names the command line gave outright (``model``, ``backend``, settings):
    those keep their values over what the conversation was made with."""

    given: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Resumed:
    conversation: Conversation
    restored: str  # one line: what the conversation's last reply was made with, now in use again


def open_session(backend_name: str, model: str | None, settings: GenerationSettings, options: dict[str, Any], *,
                 progress: Callable[[str], None] | None = None, note: Callable[[str], None] | None = None,
                 store: HistoryStore | None = None) -> Setup:
    """A Session on ``backend_name`` and ``model``, every turn of it stored in ``store`` (the default history)."""
    session = Session(backend_name, model, settings, progress=progress, note=note, **options)
    store = store if store is not None else HistoryStore()
    store.attach(session)
    return Setup(session, store, list(store.notices))


def resume_last(setup: Setup, resume: Resume | bool = True) -> Resumed | None:
    """``--continue``: the last stored conversation becomes the session's, on what it was made with; None
    when there is none yet."""
    last = setup.store.last_id()
    if last is None:
        return None
    conversation = setup.store.load(last)
    given = resume.given if isinstance(resume, Resume) else frozenset()
    return Resumed(conversation, restore(setup.session, conversation, given))


def restore(session: Session, conversation: Conversation, given: frozenset[str] = frozenset()) -> str:
    """Make ``conversation`` the session's, on the backend, model and settings of its last reply (but for
    the names in ``given``); returns one line saying what is in use now."""
    session.conversation = conversation
    made = next((t for t in reversed(conversation.turns) if t.message.role == "assistant" and t.stats), None)
    if made is None:
        return "no reply yet to take a model or settings from"
    said = [_restore_backend(session, made.stats.backend, made.stats.model or None, given)]
    if made.settings is not None:
        session.settings = _restored_settings(session.settings, made.settings, given)
    changed = [f"{name} {_shown(getattr(session.settings, name))}" for name in SPECS
               if name != "seed" and getattr(session.settings, name) != getattr(GenerationSettings(), name)]
    said.append(", ".join(changed) if changed else "default settings")
    if kept := sorted(given & (set(SPECS) | {"backend", "model"})):
        said.append(f"as given: {', '.join(kept)}")
    return "; ".join(said)


def _restore_backend(session: Session, backend: str, model: str | None, given: frozenset[str]) -> str:
    """Switch to the backend and model a reply was made with, unless the command line named another or it is
    the one in use; returns 'MODEL on BACKEND' as it is now, or why the old one could not be taken up."""
    now = getattr(session.backend, "model_name", None) or session.model
    same = backend == session.backend_name and model in (now, session.model)
    named = "model" in given or ("backend" in given and backend != session.backend_name)
    if backend and not same and not named:
        try:
            _check_model(backend, model)
            session.use_backend(backend, model)
        except ParrotError as error:  # the conversation is taken up anyway, on the model in use now
            return f"{model or 'its model'} on {backend} is not available ({error.message}); " \
                   f"answering with {_in_use(session)}"
    return _in_use(session)


def _check_model(backend: str, model: str | None) -> None:
    """A local model that is gone (a deleted folder, a fine-tune not made here) is refused before switching."""
    if backend == "local" and model is not None:
        from backends.loading.models import resolve

        resolve(model)


def _in_use(session: Session) -> str:
    model = getattr(session.backend, "model_name", None) or session.model or "its default model"
    return f"{model} on {session.backend_name}"


def _restored_settings(current: GenerationSettings, made: GenerationSettings, given: frozenset[str]) -> GenerationSettings:
    """The settings a reply was made with, but for those given outright and the seed; a per-mode default the
    backend filled in stays unset, so a model of the other mode gets its own."""
    changes: dict[str, Any] = {}
    for name, spec in SPECS.items():
        if name in given or name == "seed":
            continue
        value = getattr(made, name)
        changes[name] = None if spec.by_mode and value in spec.by_mode.values() else value
    return current.updated(**changes)


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(repr(v) for v in value)
    return repr(one_line(value, 30)) if isinstance(value, str) else shown_value(value)
