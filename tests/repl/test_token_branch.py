"""/probs N --pick K: the forced token appears at N, the tokens before it are unchanged, the old reply is kept."""

from __future__ import annotations

import re

from backends.cancel import Cancel
from backends.settings import GenerationSettings
from repl.chat.replies import stream_reply
from repl.chat.session import Session
from repl.chat.token_branch import path_probability
from repl.commands import Context, run
from tests.support.helpers import run_parrot


class Shown:
    """A UI that replies as the plain REPL does, in the caller's thread, and records what is shown and said."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.items: list = []

    def show(self, renderable) -> None:
        self.items.append(str(renderable))

    def generate(self, branch: tuple[int, int] | None = None) -> None:
        stream_reply(self.session, None, Cancel(), lambda text: None, self.items.append, branch=branch)

    def progress(self, text: str | None) -> None: ...
    def quit(self) -> None: ...
    def clear(self) -> None: ...
    def read_secret(self, prompt: str) -> str | None: return None


def test_the_forced_alternative_lands_at_its_position_after_an_unchanged_prefix(tiny_llama):
    session = Session("local", str(tiny_llama), GenerationSettings(temperature=1.0, seed=11, max_new_tokens=12))
    ui = Shown(session)
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
    kept = session.conversation.branches
    assert len(kept) == 1 and kept[0].turns[-1] is old  # the old reply is a branch (its whole path is kept)
    assert f"path probability {path_probability(new.tokens):.3g}" in ui.items[-1]


def test_branching_in_a_script_and_its_usage_errors(tiny_llama, parrot_home):
    script = "/set seed=5\n/set max=10\nhello there\n/probs 3 --pick 2\n/probs 3 --pick 9\n"
    result = run_parrot(["--script", "-", "--keep-going", "-m", str(tiny_llama)], stdin=script.encode(),
                        env={"PARROT_HOME": str(parrot_home)})
    out, err = result.stdout.decode(), result.stderr.decode()
    assert re.search(r"branched at position 3: .* path probability \S+ \(the kept reply: \S+, branch 1: /branch 1 "
                     r"goes back\)", err), err
    assert "position 3 has no alternative 9 (pick one from 1 to 5 (1 is the most likely))" in err
    assert len(out.splitlines()) >= 2  # the first answer, then the branch streamed as a reply of its own


async def test_in_the_app_a_key_in_the_probs_view_branches_with_that_alternative(tiny_llama):
    from repl.app.chat_app import ChatApp
    from tests.support.app_helpers import screen_text, type_text, wait_until

    app = ChatApp("local", str(tiny_llama), GenerationSettings(temperature=1.0, seed=3, max_new_tokens=8),
                  {"device": "cpu"})
    async with app.run_test(size=(110, 48), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, "hello there")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.replying and len(app.session.conversation.turns) == 2)
        old = app.session.conversation.turns[-1]
        assert len(old.tokens) >= 2
        await type_text(pilot, "/probs 1")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "press K now" in screen_text(app) and app.focused is app.chat)
        await pilot.press("2")
        await wait_until(pilot, lambda: "branched at position 1" in screen_text(app))
        new = app.session.conversation.turns[-1]
        assert new.tokens[0].token_id == old.tokens[0].token_id
        assert new.tokens[1].token_id == old.tokens[1].top_ids[1]
        # A reply of its own, with the line under it that every reply has (model, tokens, how it ended).
        from repl.chat.replies import describe_end

        await wait_until(pilot, lambda: describe_end(new)[:40] in screen_text(app))
