"""Exit codes, the same for every mode: 0 ok, 1 backend or model failure, 2 usage, 130 interrupted."""

from __future__ import annotations

from backends.errors import Cancelled, ParrotError, SettingsError, UsageError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def signal_exit(signum: int) -> int:
    """The code for a stop by signal ``signum`` (SIGTERM, a hangup): 128 + its number, as shells report it."""
    return 128 + signum


def exit_code(error: ParrotError) -> int:
    """Usage errors (a bad flag, setting or command) are 2, a cancel 130; everything else parrot explains is 1."""
    if isinstance(error, Cancelled):
        return EXIT_INTERRUPTED
    return EXIT_USAGE if isinstance(error, (UsageError, SettingsError)) else EXIT_FAILURE
