"""A run's folder, its checkpoints, and what starting the run again does with them.

A run is found by its name (``runs/js``). Starting it again resumes from its last complete
checkpoint; settings that change the data (base model, data, block size, held-out share, seed)
cannot be resumed, and then the run is refused with a question instead of silently starting over:
nothing a person trained is deleted unless they ask with ``--fresh``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends import paths
from backends.errors import UsageError

MARKER = "parrot-checkpoint.json"  # written after the Trainer has finished a checkpoint
DATA_KEYS = ("base", "data", "block", "eval_share", "max_files", "seed")  # what a resume must keep


def complete_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints the Trainer finished writing, oldest first; a run killed while saving left none of its half."""
    found = [p for p in folder.glob("checkpoint-*") if (p / MARKER).exists() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=checkpoint_step)


def checkpoint_step(checkpoint: Path) -> int:
    return int(checkpoint.name.split("-")[-1])


def saved_settings(name: str) -> dict[str, Any]:
    """The settings the run of ``name`` was last started with ({} if it never was)."""
    folder = paths.run_dir(name)
    for record, key in (("run.json", "config"), ("job.json", "config")):
        try:
            settings = json.loads((folder / record).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(settings, dict):
            return settings
    return {}


def read_record(folder: Path) -> dict[str, Any]:
    """run.json: the settings that trained the checkpoints and the perplexity measured before."""
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


@dataclass
class Plan:
    """What starting a run does: resume from ``resume`` or start anew, deleting ``discard`` (only with --fresh)."""

    resume: Path | None = None
    record: dict[str, Any] = field(default_factory=dict)
    discard: list[Path] = field(default_factory=list)

    @property
    def resume_step(self) -> int:
        return checkpoint_step(self.resume) if self.resume else 0


def changed_settings(config: Any, saved: dict[str, Any]) -> list[str]:
    """``base smollm2 -> js``-style notes for each data-defining setting that differs from the saved run."""
    return [f"{key} {saved.get(key)} -> {getattr(config, key)}" for key in DATA_KEYS
            if saved.get(key) != getattr(config, key)]


def plan(config: Any, fresh: bool = False) -> Plan:
    """Decide resume or new start for ``config`` (a RunConfig); raise instead of deleting checkpoints.

    Called by whoever starts a run (to ask before anything starts) and again by the run itself.
    """
    folder = paths.run_dir(config.name)
    checkpoints = complete_checkpoints(folder)
    if fresh or not checkpoints:
        return Plan(discard=checkpoints)
    record = read_record(folder)
    changed = changed_settings(config, record.get("config", {}))
    if changed:
        last = checkpoints[-1]
        raise UsageError(
            f"run {config.name} has {last.name} (step {checkpoint_step(last)}), trained with other settings "
            f"({', '.join(changed)}); resuming it with these is not possible",
            "leave those options out to resume it, or add --fresh to start over and delete its checkpoints")
    return Plan(resume=checkpoints[-1], record=record)


def remove_incomplete(folder: Path) -> None:
    """Delete half-written checkpoints of a killed run: the Trainer's rotation would count them."""
    keep = set(complete_checkpoints(folder))
    for old in folder.glob("checkpoint-*"):
        if old not in keep:
            shutil.rmtree(old, ignore_errors=True)


def remove_all(folder: Path) -> None:
    """After --fresh, or once the result is published (the checkpoints then only take up room)."""
    for old in folder.glob("checkpoint-*"):
        shutil.rmtree(old, ignore_errors=True)
