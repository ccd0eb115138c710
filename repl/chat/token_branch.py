"""Branch from a token: cut a reply at position N, force its K-th alternative, let the model go on.

The new reply keeps the old one's first N tokens exactly (ids, not re-tokenised text), takes the
alternative at N, and continues with the same settings and seed. The reply it replaces is kept as a branch
of the conversation tree, so both paths and their probabilities can be compared.
"""

from __future__ import annotations

import math
import threading

from backends.errors import UsageError
from backends.reply import Reply, TokenChoice

from .session import Session, Turn


def path_probability(tokens: list[TokenChoice]) -> float:
    """The probability the model gave the whole reply: the product of its tokens' probabilities."""
    return math.exp(sum(math.log(max(t.prob, 1e-300)) for t in tokens))


def forced_prefix(turn: Turn, position: int, pick: int) -> list[TokenChoice]:
    """The first ``position`` tokens of ``turn``, then its ``pick``-th alternative at ``position``."""
    tokens = turn.tokens
    if not 0 <= position < len(tokens):
        raise UsageError(f"there is no position {position}", f"give a position from 0 to {len(tokens) - 1}")
    choice = tokens[position]
    if not choice.top_ids:
        raise UsageError("this reply's alternatives carry no token ids",
                         "branching needs the local backend; answer again with -b local")
    if not 1 <= pick <= len(choice.top_ids):
        raise UsageError(f"position {position} has no alternative {pick}",
                         f"pick one from 1 to {len(choice.top_ids)} (1 is the most likely)")
    text, prob = choice.top[pick - 1]
    alternative = TokenChoice(choice.top_ids[pick - 1], text, prob, list(choice.top), list(choice.top_ids))
    return list(tokens[:position]) + [alternative]


def branch_reply(session: Session, turn: Turn, position: int, pick: int,
                 cancel: threading.Event | None = None) -> Reply:
    """Start the branch; the caller consumes it and records it with ``session.finish_reply``."""
    backend = session.backend
    stream_from = getattr(backend, "stream_from", None)
    if stream_from is None:
        raise UsageError(f"the {session.backend_name} backend cannot continue from a forced token",
                         "branch with the local backend (-b local)")
    turns = session.conversation.turns
    index = next(i for i in range(len(turns) - 1, -1, -1) if turns[i] is turn)
    messages = [t.message for t in turns[:index]]
    settings = turn.settings or session.settings
    if turn.stats is not None and turn.stats.seed is not None:
        settings = settings.updated(seed=turn.stats.seed)
    prefix = forced_prefix(turn, position, pick)
    # The branch is as long as a reply may be: the forced tokens count towards max_new_tokens.
    settings = settings.updated(max_new_tokens=max(1, settings.max_new_tokens - len(prefix)))
    return stream_from(messages, settings, prefix, cancel)


def branch_note(replaced: Turn, new: Turn, position: int, kept: int) -> str:
    """One line on a branch from a token: the token forced, both paths' probabilities, and the number the
    replaced reply is kept under."""
    forced = new.tokens[position] if position < len(new.tokens) else None
    chosen = f"{forced.text!r} (p={forced.prob:.3f})" if forced is not None else "the alternative"
    return (f"branched at position {position}: {chosen} instead of {replaced.tokens[position].text!r}; "
            f"path probability {path_probability(new.tokens):.3g} (the kept reply: "
            f"{path_probability(replaced.tokens):.3g}, branch {kept}: /branch {kept} goes back)")
