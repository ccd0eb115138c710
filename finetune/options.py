"""The options of a fine-tuning run, declared once as dataclasses and read by transformers' HfArgumentParser.

``RunConfig`` is what a run trains on and how; ``StartOptions`` is what a person asks of this start
(``--fresh``); ``ProcessOptions`` is how the job runs the training process. The same declarations give
``parrot finetune js --help`` and ``/finetune js`` their options, help and defaults, parse
``python -m finetune.train`` (so ``accelerate launch`` and ``torchrun`` take the same flags), and carry a
background run's options to its process as one JSON file instead of a re-serialised command line.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backends import paths
from backends.errors import UsageError


def option(default: Any, help: str, **argparse_options: Any) -> Any:
    """A field with its help (and argparse extras such as aliases), as HfArgumentParser reads them."""
    return field(default=default, metadata={"help": help, **argparse_options})


@dataclass
class RunConfig:
    """What a run trains on and how; the parts that define the data must match for a resume."""

    name: str = option("js", "result name: the model preset it becomes")
    base: str = option("smollm2", "the model to start from (preset, folder or Hub id)", metavar="MODEL")
    data: str = option("hub", "hub (codeparrot/github-code), a .parquet file or glob, or a folder of .js files", metavar="hub|DIR")
    # The defaults fit one sitting on a 2-core laptop (120 steps x 512 tokens, 5-8 min at 160-240 tok/s;
    # the README says what to expect; 400 steps lowered perplexity further, 9.9 -> 8.6, but continuations
    # ended no more often, bench/finetune_quality.py): blocks of 256 cost less attention per token than
    # 512, two per step steady the gradient, and a cosine decay from 2e-4 ends the short run on a small rate.
    steps: int = option(120, "training steps (optimizer updates)", metavar="N")
    block: int = option(256, "tokens per packed training block", metavar="N")
    batch: int = option(1, "blocks per device per step", metavar="N")
    grad_accum: int = option(2, "gradient accumulation steps", metavar="N")
    learning_rate: float = option(2e-4, "peak learning rate", aliases=["--lr"], metavar="LR")
    warmup: float = option(0.06, "share of steps spent warming up", metavar="SHARE")
    eval_share: float = option(0.05, "share of files held out for evaluation", metavar="SHARE")
    eval_blocks: int = option(32, "held-out blocks evaluated before and after", metavar="N")
    max_files: int | None = option(None, "use at most this many files (all when left out)", metavar="N")
    save_steps: int = option(25, "save a checkpoint every N steps (a quarter of the steps when fewer)", metavar="N")
    seed: int = option(42, "random seed of the data order and initialisation", metavar="N")
    device: str = option("auto", "auto or cpu", metavar="DEVICE")


@dataclass
class StartOptions:
    """What a person asks of this start, beside the run's settings."""

    fresh: bool = option(False, "start over: delete this run's checkpoints")


@dataclass
class ProcessOptions:
    """How the job runs the training process (set by parrot, not typed by a person)."""

    progress_file: str | None = option(None, "append progress events (JSON lines) here")
    output: str | None = option(None, "where the result goes (default: the preset's folder)")
    nice: int = option(0, "lower the run's priority by this much (background)")
    yield_to_chat: bool = option(False, "hold the run still while a chat reply streams (a mark in the run's folder)")


# The least value each option takes; a value below it is refused in one line naming the option.
AT_LEAST = {"steps": 1, "block": 2, "batch": 1, "grad_accum": 1, "eval_blocks": 1, "max_files": 1, "save_steps": 1}
BETWEEN_0_AND_1 = ("warmup", "eval_share")


def check(values: dict[str, Any], hint: str | None = None) -> None:
    """Refuse values no run can use (``--steps -5``), naming only the option that is wrong."""
    for key, value in values.items():
        flag = "--lr" if key == "learning_rate" else f"--{key.replace('_', '-')}"
        if value is None:
            continue
        if key in AT_LEAST and value < AT_LEAST[key]:
            raise UsageError(f"{flag} must be at least {AT_LEAST[key]}, not {value}", hint)
        if key == "learning_rate" and (not value > 0 or value == float("inf")):
            raise UsageError(f"{flag} must be a positive number, not {value}", hint)
        if key in BETWEEN_0_AND_1 and not 0 <= value < 1:
            raise UsageError(f"{flag} must be from 0 to below 1, not {value}", hint)


def parser(*types: type, **kwargs: Any) -> argparse.ArgumentParser:
    """An HfArgumentParser over ``types`` (imported here: transformers is heavy, --help elsewhere is not)."""
    from transformers import HfArgumentParser

    return HfArgumentParser(types, **kwargs)


TRAIN_TYPES = (RunConfig, StartOptions, ProcessOptions)


def write_start_file(path: Path, config: RunConfig, start: StartOptions, process: ProcessOptions) -> Path:
    """Every option of one start in one JSON file, which ``python -m finetune.train FILE`` reads back."""
    paths.atomic_write_text(path, json.dumps({**asdict(config), **asdict(start), **asdict(process)}, indent=2))
    return path


def read_train_args(argv: list[str]) -> tuple[RunConfig, StartOptions, ProcessOptions]:
    """``python -m finetune.train``'s arguments: one start file, or the flags (accelerate, torchrun)."""
    train = parser(*TRAIN_TYPES, prog="python -m finetune.train")
    if len(argv) == 1 and argv[0].endswith(".json"):
        config, start, process = train.parse_json_file(argv[0])
    else:
        config, start, process = train.parse_args_into_dataclasses(argv, look_for_args_file=False)
    check(asdict(config))
    return config, start, process
