"""Loading the session's model behind the open window, and keeping the last model that worked.

The window is up at once; the model loads in a thread worker that reaches the screen only through
the messages nested here (a prompt sent meanwhile waits for it inside the backend). A /model or
/backend switch whose model cannot load goes back to the backend that last loaded, so that a typo
never leaves the chat without a model.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable

from rich.text import Text
from textual.app import App
from textual.message import Message

from backends.errors import ParrotError

from ..chat.session import Session
from ..crash import unexpected
from ..views.terminal_text import neutral


class ModelLoader:
    """Loads ``session.backend`` for ``app``; the app hands it the messages below as they arrive."""

    class Progress(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Noted(Message):
        """Something a backend tells the person (a retry, a setting the server ignores)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Ready(Message):
        def __init__(self, backend: Any) -> None:
            super().__init__()
            self.backend = backend

    class Failed(Message):
        def __init__(self, backend: Any, error: ParrotError) -> None:
            super().__init__()
            self.backend, self.error = backend, error

    def __init__(self, app: App, session: Session) -> None:
        self.app = app
        self.session = session
        self.backend = session.backend  # the backend loading, or last loaded
        self.since: float | None = None  # when the load began; None once it is over
        self.after_load: str | None = None  # what a /model or /backend says once its model has loaded
        self._working: tuple[Any, str, str | None] | None = None  # the last backend that loaded

    @property
    def status(self) -> Any:
        return self.app.status  # type: ignore[attr-defined]

    @property
    def switched(self) -> bool:
        """Whether a command gave the session another backend since the last load began."""
        return self.session.backend is not self.backend

    @property
    def downloading(self) -> bool:
        return self.since is not None and self.status.downloading

    def start(self) -> None:
        """Load the session's backend now (a switch while another loads leaves that one behind)."""
        self.backend = self.session.backend
        self.since = time.monotonic()
        self.status.loading(f"loading {self.session.model or 'the default model'}", since=self.since)
        self.status.sync()
        self.app.run_worker(partial(self._load, self.backend), thread=True, exclusive=True,
                            exit_on_error=False, group="load")

    def _load(self, backend: Any) -> None:
        load: Callable[[], Any] | None = getattr(backend, "load", None)
        try:
            if load is not None:
                load()
        except ParrotError as error:
            self.app.post_message(self.Failed(backend, error.in_chat()))  # the hint names a slash-command
        except Exception as error:  # noqa: BLE001  shown to the person; the chat goes on
            self.app.post_message(self.Failed(backend, unexpected(error, "loading the model")))
        else:
            self.app.post_message(self.Ready(backend))

    def cancel(self) -> None:
        """Stop a download; the load then fails with one line and the chat goes on."""
        if self.downloading and hasattr(self.session.backend, "cancel_load"):
            self.session.backend.cancel_load()

    # The app passes these on as they arrive, on the UI thread.

    def progress(self, message: Progress) -> None:
        if self.since is not None:  # progress of a load that has ended since it was sent is stale
            self.status.loading(message.text)

    def noted(self, message: Noted) -> None:
        self.app.notify(neutral(message.text), timeout=8)

    def ready(self, message: Ready) -> str | None:
        """The model loaded; returns what the switch that asked for it wanted said, if anything."""
        if message.backend is not self.session.backend:
            return None  # a model switched away from while it loaded
        self._working = (self.session.backend, self.session.backend_name, self.session.model)
        self._done()
        said, self.after_load = self.after_load, None
        return said

    def failed(self, message: Failed) -> str | None:
        """The model did not load: says so, and returns the sentence for the chat log to keep."""
        if message.backend is not self.session.backend:
            return None
        self.after_load = None  # the failure is the one thing said
        error = str(message.error)
        if self._working is not None:  # a failed /model or /backend keeps the one that worked
            session = self.session
            session.backend, session.backend_name, session.model = self._working
            session.models[session.backend_name] = session.model
            self.backend = session.backend
            error += f"; still using {session.model or session.backend_name}"
        self.app.notify(error, title="could not load the model", severity="error", timeout=10)
        self._done()
        return f"could not load the model: {error}"

    def _done(self) -> None:
        self.since = None
        self.status.loading(None)
        self.status.sync()  # a loaded model knows its device, dtype and window


class LoaderEvents:
    """The chat app's handlers of what the loader says (it provides loader, chat and the attachment preview)."""

    loader: Any
    chat: Any
    call_later: Any
    _preview_attachments: Callable[[], None]

    def on_model_loader_progress(self, message: ModelLoader.Progress) -> None:
        self.loader.progress(message)

    def on_model_loader_noted(self, message: ModelLoader.Noted) -> None:
        self.loader.noted(message)

    def on_model_loader_ready(self, message: ModelLoader.Ready) -> None:
        if (said := self.loader.ready(message)) is not None:  # a /model switch is told once, after it worked
            self.call_later(self.chat.show_note, said)
        self._preview_attachments()

    async def on_model_loader_failed(self, message: ModelLoader.Failed) -> None:
        if (said := self.loader.failed(message)) is not None:
            await self.chat.show_note(Text(said, style="red"))  # the notification fades; the log keeps it
        self._preview_attachments()
