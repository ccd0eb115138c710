"""Telling, from a server's answer, that it ignored a setting it was sent.

Some OpenAI-compatible servers accept a field and do nothing with it: ``transformers serve`` (5.24)
never turns sampling on, so ``temperature`` changes nothing. parrot does not guess from the server's
name; it decides from what the answer shows, in two ways:

- An echoed field. A server that reports the value it used (``"temperature": 1.0`` at the top of a
  chunk or answer, as the OpenAI Responses API and some proxies do) and reports another value than
  the one sent has used its own.
- Greedy-looking log-probabilities. If a reply was sampled at temperature >= 1 and every chosen
  token is the most likely one, compute how likely that is under honest sampling: at temperature >= 1
  the top token is drawn with at most the probability the model gives it (a temperature above 1 only
  flattens), and nucleus sampling raises that to at most ``p / top_p`` (1 once the top token alone
  fills the nucleus). The product of these bounds over the reply is the chance that a server that
  did sample would show this; below ``UNLIKELY`` (1 in 10,000) the reply was decoded greedily and the
  temperature was ignored. A confident model (top tokens near 1) never trips it, and a temperature
  below 1 is never judged, since sharpening can make the top token nearly certain.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from ..reply import TokenChoice

UNLIKELY = 1e-4
ECHOED = ("temperature", "top_p", "seed")


def echoed_values(chunk: Any) -> dict[str, Any]:
    """The settings a chunk (or a whole answer) says the server used, from its top-level fields."""
    if not isinstance(chunk, dict):
        return {}
    return {name: chunk[name] for name in ECHOED if isinstance(chunk.get(name), (int, float))
            and not isinstance(chunk.get(name), bool)}


def ignored_settings(body: dict[str, Any], echoed: dict[str, Any], tokens: Iterable[TokenChoice]) -> dict[str, str]:
    """Setting -> the evidence, for each setting sent in ``body`` that the answer shows was not used."""
    found: dict[str, str] = {}
    for name, used in echoed.items():
        sent = body.get(name)
        if isinstance(sent, (int, float)) and not math.isclose(float(sent), float(used), abs_tol=1e-6):
            found[name] = f"it answered with {name} {used:g}, not the {sent:g} it was sent"
    temperature = body.get("temperature")
    if "temperature" not in found and isinstance(temperature, (int, float)) and temperature >= 1:
        chance, count = greedy_chance(list(tokens), float(body.get("top_p") or 1.0))
        if count and chance < UNLIKELY:
            found["temperature"] = (f"all {count} tokens of a reply sampled at temperature {temperature:g} were "
                                    "the most likely ones, which sampling gives less than once in 10,000 replies")
    return found


def took_a_runner_up(tokens: Iterable[TokenChoice]) -> bool:
    """Whether some token was not the most likely one: the server does sample (where it sends alternatives)."""
    return any(token.top and token.prob < max(p for _, p in token.top) - 1e-9 for token in tokens)


def greedy_chance(tokens: list[TokenChoice], top_p: float) -> tuple[float, int]:
    """(the most that honest sampling could have given every one of these top tokens, how many there were),
    or (1.0, 0) when some token was not the top one, or the alternatives are missing."""
    chance = 1.0
    for token in tokens:
        if not token.top:
            return 1.0, 0
        best = max(p for _, p in token.top)
        if token.prob < best - 1e-9:
            return 1.0, 0  # a runner-up was taken: the server does sample
        chance *= 1.0 if best >= top_p else min(1.0, best / top_p)
    return chance, len(tokens)
