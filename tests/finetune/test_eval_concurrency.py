"""HumanEval against a server with requests in flight side by side: the same pass@k (the same seed for every
sample) as one at a time, the requests really overlap, and a failure stops the run in one line."""

from __future__ import annotations

import pytest

from backends import registry
from backends.errors import BackendError
from backends.settings import GenerationSettings
from finetune.humaneval import evaluate, load_problems
from tests.support.helpers import run_parrot
from tests.support.server_personas import Persona

PROBLEMS = load_problems(6)


def solution_for(body: dict) -> str:
    """Right for even seeds (and greedy), wrong for odd ones: which samples pass depends on the seed alone."""
    asked = body["messages"][-1]["content"]
    problem = next(p for p in PROBLEMS if p["prompt"] in asked)
    body_code = problem["canonical_solution"] if (body.get("seed") or 0) % 2 == 0 else "    return None\n"
    return f"```python\n{problem['prompt']}{body_code}```"


def run_at(server, concurrency: int, settings: GenerationSettings, n: int):
    server.persona = Persona(text_for=solution_for, seconds_per_token=0.002)
    backend = registry.create("openai", "m", base_url=f"{server.url}/v1")
    report = evaluate(backend, settings, n=n, limit=len(PROBLEMS), concurrency=concurrency)
    sent = sorted((p.body["messages"][-1]["content"][-60:], p.body.get("seed")) for p in server.posts())
    return report, sent, server.persona.peak


def test_concurrent_requests_give_the_same_samples_and_pass_at_k_as_one_at_a_time(server):
    settings = GenerationSettings(temperature=0.8, seed=10, max_new_tokens=400)
    alone, sent_alone, peak_alone = run_at(server, 1, settings, n=3)
    server.received.clear()
    side_by_side, sent_together, peak_together = run_at(server, 4, settings, n=3)
    assert peak_alone == 1 and peak_together == 4, "one request at a time, then four in flight"
    assert sent_together == sent_alone and {seed for _, seed in sent_alone} == {10, 11, 12}
    assert [r.task_id for r in side_by_side.results] == [p["task_id"] for p in PROBLEMS]  # in problem order
    summary = [[(s.passed, s.kind, s.completion) for s in r.samples] for r in alone.results]
    assert [[(s.passed, s.kind, s.completion) for s in r.samples] for r in side_by_side.results] == summary
    assert side_by_side.pass_at(1) == alone.pass_at(1) == pytest.approx(2 / 3)  # seeds 10 and 12 pass, 11 fails
    assert side_by_side.concurrency == 4


def test_greedy_runs_agree_too(server):
    settings = GenerationSettings(greedy=True, max_new_tokens=400)
    alone, _, _ = run_at(server, 1, settings, n=1)
    server.received.clear()
    together, _, _ = run_at(server, 3, settings, n=1)
    assert together.pass_at(1) == alone.pass_at(1) == 1.0


def test_a_failing_request_stops_the_run_with_its_error(server):
    def refuse_the_third(body: dict) -> str:
        if PROBLEMS[2]["prompt"] in body["messages"][-1]["content"]:
            raise RuntimeError("not reached")
        return solution_for(body)

    def respond(h):
        if PROBLEMS[2]["prompt"] in h.body["messages"][-1]["content"]:
            h.send_json(500, {"error": "the model crashed"})
        else:
            persona.respond(h)

    persona = Persona(text_for=refuse_the_third)
    server.persona = persona
    server.queue(*[respond] * 40)
    backend = registry.create("openai", "m", base_url=f"{server.url}/v1", retries=0)
    with pytest.raises(BackendError) as caught:
        evaluate(backend, GenerationSettings(greedy=True, max_new_tokens=400), limit=len(PROBLEMS), concurrency=3)
    assert "failed with 500" in caught.value.message and "the model crashed" in caught.value.message


def test_parrot_eval_takes_concurrency_and_refuses_nonsense(server, parrot_home):
    server.persona = Persona(text_for=solution_for)
    args = ["eval", "humaneval", "-b", "openai", "--base-url", f"{server.url}/v1", "-m", "m", "--limit", "4"]
    result = run_parrot([*args, "--concurrency", "4"], env={"PARROT_HOME": str(parrot_home)})
    assert result.returncode == 0, result.stderr.decode()
    assert "pass@1 100.00% on 4 problems" in result.stdout.decode()
    result = run_parrot([*args, "--concurrency", "0"], env={"PARROT_HOME": str(parrot_home)})
    assert result.returncode == 2 and "--concurrency must be from 1 to 256" in result.stderr.decode()


def test_a_server_that_ignores_temperature_is_named_under_a_sampled_eval(server, parrot_home):
    from tests.support.server_personas import transformers_serve

    server.persona = transformers_serve(text_for=solution_for, seconds_per_token=0.002)
    args = ["eval", "humaneval", "-b", "openai", "--base-url", f"{server.url}/v1", "-m", "m", "--limit", "6",
            "-n", "2", "-t", "0.8", "--concurrency", "2"]
    result = run_parrot(args, env={"PARROT_HOME": str(parrot_home)})
    assert result.returncode == 0, result.stderr.decode()
    assert "ignores temperature" in result.stderr.decode()


def test_the_concurrency_bench_runs_and_agrees_on_pass_at_1():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "bench/eval_concurrency.py", "--limit", "4", "--levels", "1,2",
                             "--rounds", "1", "--ms-per-token", "1"], cwd=root, capture_output=True, timeout=300)
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"] and rows[0][3] == "1.00x"
    assert "same pass@1 at every level: yes" in out
