"""Command-line parsing that reports a bad flag in one line and a hint, never the whole usage."""

from __future__ import annotations

import argparse

from backends.errors import UsageError


class Parser(argparse.ArgumentParser):
    """argparse whose errors are UsageErrors: the caller prints one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("parrot").strip()  # the caller prints "parrot: " before it
        raise UsageError(f"{command}: {message}" if command else message, f"{self.prog} --help lists the options")
