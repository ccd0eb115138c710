"""Checking that a server samples when asked to, where its answers alone cannot tell.

``transformers serve`` (5.24) accepts ``temperature`` and decodes greedily all the same, and it sends
neither log-probabilities nor the settings it used, so ``ignored_settings`` has nothing to judge from.
Two short replies to one prompt at a high temperature with different seeds settle it: a server that
samples gives two different texts (a dozen tokens drawn at temperature 1.5 come out the same twice
almost never), one that decodes greedily gives the same text twice.

The check runs once per backend, in the background, beside the first sampled reply: it starts as
soon as that reply shows it carries no log-probabilities (its first chunk), or at its end when the
log-probabilities it did carry could not decide. It never delays a reply. Until the server was seen to
sample, the temperature is unverified: parrot never claims a setting the server was not seen to honour.

What it cannot tell: a server that samples at a fixed temperature of its own, whatever it is sent,
passes it; only log-probabilities (``ignored_settings``) can show that.
"""

from __future__ import annotations

import secrets
import threading
from typing import Callable

from ..errors import ParrotError
from ..settings import GenerationSettings

UNCHECKED, VERIFIED, IGNORED, UNCHECKABLE = "not checked yet", "verified", "ignored", "cannot be checked"
PROMPT = "Write ten random words, separated by spaces."  # any answer, so that sampling has room to differ
TEMPERATURE = 1.5
TOKENS = 12
MIN_CHARS = 8  # two replies shorter than this may well agree by chance


def probe_settings(seed: int) -> GenerationSettings:
    """The settings of one check request: hot, no nucleus cut, short."""
    return GenerationSettings(temperature=TEMPERATURE, top_p=1.0, max_new_tokens=TOKENS, seed=seed)


def verdict(first: str, second: str, seeds: tuple[int, int]) -> tuple[str, str]:
    """(state, evidence) from the two replies of the check."""
    if min(len(first.strip()), len(second.strip())) < MIN_CHARS:
        return UNCHECKABLE, "its replies to the check were too short to compare"
    if first == second:
        return IGNORED, (f"two replies at temperature {TEMPERATURE:g} with seeds {seeds[0]} and {seeds[1]} were the "
                         "same, word for word, which sampling almost never gives")
    return VERIFIED, f"two replies at temperature {TEMPERATURE:g} with different seeds differed"


class SamplingCheck:
    """What a server was seen to do with ``temperature``: unchecked, verified, ignored, or uncheckable.

    ``ask(settings)`` sends one check request and returns its text; ``on_ignored(evidence)`` hears the
    verdict "ignored", from whichever thread reached it.
    """

    def __init__(self, ask: Callable[[GenerationSettings], str], on_ignored: Callable[[str], None]) -> None:
        self.ask = ask
        self.on_ignored = on_ignored
        self.state = UNCHECKED
        self.evidence = ""
        self.done = threading.Event()  # set once the background check has ended (tests wait on it)
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Run the check in the background, once, unless a reply has already decided."""
        with self._lock:
            if self._started or self.state != UNCHECKED:
                return
            self._started = True
        threading.Thread(target=self._run, name="parrot-sampling-check", daemon=True).start()

    def _run(self) -> None:
        first = secrets.randbits(31)
        seeds = (first, first + 1)
        try:
            texts = [self.ask(probe_settings(seed)) for seed in seeds]
            state, evidence = verdict(texts[0], texts[1], seeds)
        except ParrotError as error:
            state, evidence = UNCHECKABLE, f"the check failed: {error.message}"
        except Exception as error:  # noqa: BLE001  a check must never take anything down with it
            state, evidence = UNCHECKABLE, f"the check failed: {type(error).__name__}"
        try:
            self.record(state, evidence)
        finally:
            self.done.set()

    def record(self, state: str, evidence: str) -> None:
        """What a reply or the check showed. Ignoring is final; a failed check never undoes a verified one."""
        with self._lock:
            if self.state == IGNORED or (state == UNCHECKABLE and self.state == VERIFIED):
                return
            self.state, self.evidence = state, evidence
        if state == IGNORED:
            self.on_ignored(evidence)

    def describe(self) -> str:
        """One line for /settings: the state and what it rests on."""
        if self.state == UNCHECKED:
            return f"{UNCHECKED}: checked beside the first sampled reply"
        return f"{self.state}: {self.evidence}" if self.evidence else self.state
