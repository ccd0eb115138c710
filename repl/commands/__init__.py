"""Slash-commands. Each module registers its commands into the one table in ``table.py``."""

from . import auth, branching, chat, compare, core, device, evaluate, files, finetune, insight, sampling  # noqa: F401  (importing registers the commands)
from .context import UI, Context
from .table import COMMANDS, Command, command, completions, is_command, lookup, run

__all__ = ["COMMANDS", "Command", "Context", "UI", "command", "completions", "is_command", "lookup", "run"]
