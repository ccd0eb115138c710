"""Turn off the progress bars that transformers and huggingface_hub draw with tqdm.

parrot says what it is doing in its own lines (loading, converting, downloading); the libraries'
bars would scribble over the app's screen, fill log files with carriage returns, or print a dozen
half-bars under a one-line progress.
"""

from __future__ import annotations

import os


def keep_off() -> None:
    """Turn the bars off without importing transformers (a fast start never loads it)."""
    # tqdm reads TQDM_* once, when it is first imported: set it before transformers loads it.
    os.environ.setdefault("TQDM_DISABLE", "1")


def silence() -> None:
    """Turn the bars off, transformers' own switch included."""
    keep_off()
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()
