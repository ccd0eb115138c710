"""Keys from a terminal that sends bytes that are not UTF-8 (a Latin-1 terminal, a stray byte) become U+FFFD.

Textual's input thread decodes what the terminal sends with a strict UTF-8 decoder
(textual/drivers/linux_driver.py, ``run_input_thread``): the first such byte raised there, and the app
died with a traceback in the middle of a chat. The thread looks the decoder up by name when it starts,
so it is given one that replaces what it cannot decode instead, as prompt_toolkit (``--plain``) keeps
it; the prompt then says U+FFFD where the byte was, and the chat goes on.
"""

from __future__ import annotations

import codecs
import functools


def replacing_decoder(encoding: str) -> functools.partial:
    """``codecs.getincrementaldecoder(encoding)`` whose decoders replace bytes they cannot decode."""
    return functools.partial(codecs.getincrementaldecoder(encoding), errors="replace")


def decode_leniently() -> None:
    """Make Textual's terminal input decode with ``errors="replace"`` (before the app starts its driver)."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # another platform's driver
        return
    linux_driver.getincrementaldecoder = replacing_decoder  # type: ignore[attr-defined]
