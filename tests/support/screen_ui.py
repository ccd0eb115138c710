"""A command UI for tests: records what commands show, rendered as a terminal would."""

from __future__ import annotations

from rich.console import Console


class ScreenUI:
    """A UI that records what a command shows, rendered as a terminal would, and answers secret prompts."""

    def __init__(self, secrets: list[str | None] | None = None) -> None:
        self.console = Console(record=True, width=120, force_terminal=False)
        self.secrets = list(secrets or [])
        self.prompts: list[str] = []

    def show(self, renderable) -> None:
        self.console.print(renderable)

    def read_secret(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self.secrets.pop(0)

    def generate(self, branch: tuple[int, int] | None = None) -> None: ...
    def progress(self, text: str | None) -> None: ...
    def quit(self) -> None: ...
    def clear(self) -> None: ...

    def text(self) -> str:
        return self.console.export_text(clear=False)
