"""/probs N --pick K: the forced token appears at N, the tokens before it are unchanged, the old reply is kept."""

from __future__ import annotations

import re

from backends.settings import GenerationSettings
from helpers import run_parrot
from repl.commands import Context, run
from repl.session import Session
from repl.token_branch import path_probability


class Shown:
    def __init__(self) -> None:
        self.items: list = []

    def show(self, renderable) -> None:
        self.items.append(str(renderable))

    def generate(self) -> None: ...
    def quit(self) -> None: ...
    def clear(self) -> None: ...
    def read_secret(self, prompt: str) -> str | None: return None


def test_the_forced_alternative_lands_at_its_position_after_an_unchanged_prefix(tiny_llama):
    session = Session("local", str(tiny_llama), GenerationSettings(temperature=1.0, seed=11, max_new_tokens=12))
    ui = Shown()
    ctx = Context(session, ui)
    reply = session.ask("class SimpleAdder {")
    reply.finish()
    session.finish_reply(reply)
    old = session.conversation.turns[-1]
    assert len(old.tokens) >= 2
    position = min(4, len(old.tokens) - 1)
    choice = old.tokens[position]
    pick = next(k for k, i in enumerate(choice.top_ids, start=1) if i != choice.token_id and k > 1)
    wanted = choice.top_ids[pick - 1]
    run(f"/probs {position} --pick {pick}", ctx)
    new = session.conversation.turns[-1]
    assert new is not old and [t.message.role for t in session.conversation.turns] == ["user", "assistant"]
    assert [t.token_id for t in new.tokens[:position]] == [t.token_id for t in old.tokens[:position]]
    assert new.tokens[position].token_id == wanted
    assert len(new.tokens) <= 12 and new.stats.seed == old.stats.seed == 11
    assert ctx.extras["branches"] == [old]  # the replaced reply is kept
    assert f"path probability {path_probability(new.tokens):.3g}" in ui.items[-1]


def test_branching_in_a_script_and_its_usage_errors(tiny_llama, parrot_home):
    script = "/set seed=5\n/set max=10\nhello there\n/probs 3 --pick 2\n/probs 3 --pick 9\n"
    result = run_parrot(["--script", "-", "--keep-going", "-m", str(tiny_llama)], stdin=script.encode(),
                        env={"PARROT_HOME": str(parrot_home)})
    out, err = result.stdout.decode(), result.stderr.decode()
    assert re.search(r"branched at position 3: .* path probability \S+ \(the kept reply: \S+, 1 kept\)", out), out
    assert "position 3 has no alternative 9 (pick one from 1 to 5 (1 is the most likely))" in err
