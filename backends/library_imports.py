"""transformers' names, imported by one thread at a time.

transformers loads its classes lazily, on first use of a name. Two threads that reach a name at once
(the app loading a model while ``/tokens`` loads a tokenizer) can see a half-imported module, and one
of them fails with "cannot import name 'AutoModelForCausalLM' from 'transformers'". Every import of a
transformers name in parrot's engine goes through ``transformers_names`` under one lock; once a name
is imported the lock costs nothing worth measuring.
"""

from __future__ import annotations

import threading
from typing import Any

_importing = threading.RLock()  # reentrant: an import may import another name through here


def transformers_names(*names: str) -> Any:
    """The transformers objects ``names`` (one object for one name, else a tuple), imported safely."""
    with _importing:
        import transformers

        found = tuple(getattr(transformers, name) for name in names)
    return found[0] if len(found) == 1 else found
