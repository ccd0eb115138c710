"""HumanEval against a server, with 1, 2, 4 ... requests in flight: problems per second at each level,
as a ratio to one at a time measured in the same round, until the server saturates.

The server is the tests' own OpenAI-compatible one (tests/support/openai_server.py) with a fake model
that decodes at a fixed time per token and serves ``--slots`` requests at once (more wait their turn,
as on a real server whose batch is full). It answers each problem with its canonical solution, wrong
for every fourth, so the sandbox runs real programs and pass@1 has something to agree on: it must be
the same at every level. Levels run interleaved, in a rotated order each round, so all see the same
machine load.

    python bench/eval_concurrency.py [--limit 40] [--levels 1,2,4,8,16] [--rounds 3] [--slots 8] [--ms-per-token 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import registry  # noqa: E402
from backends.settings import GenerationSettings  # noqa: E402
from finetune.humaneval import evaluate, load_problems  # noqa: E402
from tests.support.openai_server import FakeServer  # noqa: E402
from tests.support.server_personas import Persona  # noqa: E402


def answers(limit: int):
    """The server's answer to each problem's request: its solution, or a wrong one for every fourth problem."""
    problems = load_problems(limit)

    def text_for(body: dict) -> str:
        asked = body["messages"][-1]["content"]
        index, problem = next((i, p) for i, p in enumerate(problems) if p["prompt"] in asked)
        code = "    return None\n" if index % 4 == 3 else problem["canonical_solution"]
        return f"Here it is:\n```python\n{problem['prompt']}{code}```"

    return text_for


def one_run(server: FakeServer, level: int, limit: int) -> tuple[float, float, int]:
    """(seconds, pass@1, most requests in flight) of one evaluation at ``level``."""
    persona = server.persona
    persona.peak = 0
    backend = registry.create("openai", "bench", base_url=f"{server.url}/v1")
    report = evaluate(backend, GenerationSettings(greedy=True, max_new_tokens=512), limit=limit, concurrency=level)
    return report.seconds, report.pass_at(1) or 0.0, persona.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="HumanEval problems per run")
    parser.add_argument("--levels", default="1,2,4,8,16", help="requests in flight to measure (1 is the baseline)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slots", type=int, default=8, help="requests the fake server decodes at once")
    parser.add_argument("--ms-per-token", type=float, default=4.0)
    args = parser.parse_args()
    levels = sorted({int(x) for x in args.levels.split(",")} | {1})
    server = FakeServer()
    server.persona = Persona(text_for=answers(args.limit), seconds_per_token=args.ms_per_token / 1000,
                             slots=args.slots)
    seconds: dict[int, list[float]] = {level: [] for level in levels}
    ratios: dict[int, list[float]] = {level: [] for level in levels}
    scores: dict[int, set[float]] = {level: set() for level in levels}
    peaks: dict[int, int] = {level: 0 for level in levels}
    try:
        for round_index in range(args.rounds):
            order = levels[round_index % len(levels):] + levels[:round_index % len(levels)]
            this_round = {}
            for level in order:
                took, score, peak = one_run(server, level, args.limit)
                this_round[level] = took
                seconds[level].append(took)
                scores[level].add(round(score, 6))
                peaks[level] = max(peaks[level], peak)
            for level in levels:
                ratios[level].append(this_round[1] / this_round[level])
    finally:
        server.stop()
    cores = os.cpu_count() or 1
    print(f"HumanEval, {args.limit} problems, greedy, {args.rounds} rounds interleaved; fake server: "
          f"{args.ms_per_token:g} ms/token, {args.slots} requests decoded at once; sandboxes at most {cores} at once "
          f"({cores} cores); medians")
    print(f"{'in flight':>9}{'seconds':>10}{'problems/s':>12}{'speed-up':>10}{'peak':>6}  pass@1")
    for level in levels:
        median = statistics.median(seconds[level])
        print(f"{level:>9}{median:>10.2f}{args.limit / median:>12.2f}{statistics.median(ratios[level]):>9.2f}x"
              f"{peaks[level]:>6}  {', '.join(f'{100 * s:.2f}%' for s in sorted(scores[level]))}")
    base = seconds[1]
    spread = (max(base) - min(base)) / statistics.median(base) if len(base) > 1 else 0.0
    same = len({score for level in levels for score in scores[level]}) == 1
    print(f"same pass@1 at every level: {'yes' if same else 'NO'}; one-at-a-time runs varied by {100 * spread:.0f}%")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
