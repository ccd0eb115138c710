"""Access tokens: where parrot finds them, how it stores them, and how it keeps them out of sight.

The Hugging Face token is looked up in this order: ``HF_TOKEN``, the OS keyring (service
``parrot``), then the token file that ``hf auth login`` writes. A key for a self-hosted
OpenAI-compatible server is stored per server (its origin), so it only ever goes where it was given.
A token is held in a ``Secret`` whose repr and str hide it, so it cannot leak through a log line,
an f-string or a traceback that shows local variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import paths
from .errors import BackendError, UsageError

SERVICE = "parrot"
HF_USERNAME = "huggingface"
HF_HOST = "router.huggingface.co"
NO_KEYRING_HINT = ("install a keyring backend (`pip install keyrings.alt` stores it in a file) "
                   "or set HF_TOKEN in the environment")


class Secret:
    """A string that shows as ``***`` everywhere except where ``reveal()`` is called."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Found:
    """A token and a description of where it came from (safe to print)."""

    secret: Secret
    source: str


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL: the unit a key is bound to (default ports made explicit)."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def token_file() -> Path:
    """The file ``hf auth login`` writes: $HF_TOKEN_PATH, else $HF_HOME/token (~/.cache/huggingface)."""
    if path := os.environ.get("HF_TOKEN_PATH"):
        return paths.user_path(path)
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return paths.user_path(home) / "token"


# -- the keyring -----------------------------------------------------------------------------------


def _keyring_get(username: str) -> tuple[str | None, str | None]:
    """(token, problem): a missing or locked keyring is a problem to report, never a traceback."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return keyring.get_password(SERVICE, username), None
    except NoKeyringError:
        return None, "no OS keyring is available"
    except KeyringError as error:
        return None, f"the OS keyring could not be read ({type(error).__name__})"


def keyring_name() -> str:
    """The keyring backend in use, e.g. ``SecretService Keyring``, for status lines."""
    import keyring

    backend = keyring.get_keyring()
    return getattr(backend, "name", type(backend).__name__)


def _keyring_set(username: str, value: str) -> None:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        keyring.set_password(SERVICE, username, value)
    except NoKeyringError:
        raise BackendError("no OS keyring is available on this machine, so the token was not saved",
                           NO_KEYRING_HINT) from None
    except KeyringError as error:
        raise BackendError(f"the OS keyring refused the token ({type(error).__name__})",
                           f"unlock the keyring and try again, or {NO_KEYRING_HINT}") from None


def _keyring_delete(username: str) -> bool:
    """Remove an entry; False when there was none."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, username)
        return True
    except PasswordDeleteError:
        return False
    except NoKeyringError:
        raise BackendError("no OS keyring is available on this machine", NO_KEYRING_HINT) from None
    except KeyringError as error:
        raise BackendError(f"the OS keyring could not be changed ({type(error).__name__})",
                           "unlock the keyring and try again") from None


def _server_username(base_url: str) -> str:
    return f"key:{origin(base_url)}"


# -- lookup ----------------------------------------------------------------------------------------


def find_hf_token() -> Found | None:
    """The Hugging Face token, from HF_TOKEN, the keyring, or the token file of ``hf auth login``."""
    if value := os.environ.get("HF_TOKEN", "").strip():
        return Found(Secret(value), "the HF_TOKEN environment variable")
    value, _ = _keyring_get(HF_USERNAME)
    if value:
        return Found(Secret(value), f"the OS keyring ({keyring_name()})")
    path = token_file()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        value = ""
    if value:
        return Found(Secret(value), f"the token file of `hf auth login` ({path})")
    return None


def find_server_key(base_url: str) -> Found | None:
    """The key for one OpenAI-compatible server: only a key given for that server's origin.

    The Hugging Face token is used for the router alone, and OPENAI_API_KEY for api.openai.com alone,
    so pointing parrot at another server never hands it a key meant for someone else.
    """
    host = (urlsplit(base_url).hostname or "").lower()
    if host == HF_HOST:
        return find_hf_token()
    value, _ = _keyring_get(_server_username(base_url))
    if value:
        return Found(Secret(value), f"the OS keyring ({keyring_name()}), saved for {origin(base_url)}")
    if host == "api.openai.com" and (value := os.environ.get("OPENAI_API_KEY", "").strip()):
        return Found(Secret(value), "the OPENAI_API_KEY environment variable")
    return None


# -- login, logout, status -------------------------------------------------------------------------


def login(token: str, base_url: str | None = None) -> str:
    """Store a token in the OS keyring (for the HF router, or for the server at ``base_url``)."""
    token = token.strip()
    if not token:
        raise UsageError("no token given", "paste the token when asked (input is hidden)")
    if any(c.isspace() for c in token):
        raise UsageError("a token has no spaces or line breaks", "paste the token alone")
    if not (token.isascii() and token.isprintable()):
        raise UsageError("a token is plain ASCII letters, digits and punctuation", "paste the token alone")
    _keyring_set(_server_username(base_url) if base_url else HF_USERNAME, token)
    where = f"the OS keyring ({keyring_name()})"
    if base_url:
        return f"key saved in {where} for {origin(base_url)}; it is sent to that server only"
    message = f"token saved in {where}; the hf backend uses it from the next request"
    if os.environ.get("HF_TOKEN", "").strip():
        message += " (HF_TOKEN is set in the environment and is used first)"
    return message


def logout(base_url: str | None = None) -> str:
    """Remove the stored token and say which other sources would still supply one."""
    removed = _keyring_delete(_server_username(base_url) if base_url else HF_USERNAME)
    what = f"the key for {origin(base_url)}" if base_url else "the Hugging Face token"
    message = f"removed {what} from the OS keyring" if removed else f"{what} was not in the OS keyring"
    if base_url is None:
        still = []
        if os.environ.get("HF_TOKEN", "").strip():
            still.append("HF_TOKEN is still set in the environment")
        if token_file().is_file():
            still.append(f"the token file of `hf auth login` ({token_file()}) remains; `hf auth logout` removes it")
        if still:
            message += "; " + "; ".join(still)
    return message


def status(base_url: str | None = None) -> str:
    """Where the token comes from, in one line; never the token itself."""
    found = find_server_key(base_url) if base_url else find_hf_token()
    _, problem = _keyring_get(_server_username(base_url) if base_url else HF_USERNAME)
    note = f" ({problem}: {NO_KEYRING_HINT})" if problem and found is None else ""
    if found is None:
        if base_url:
            return f"no key for {origin(base_url)}: requests go without one{note}"
        return f"no Hugging Face token: run `parrot login` (or /login), or set HF_TOKEN{note}"
    return f"token from {found.source}"


def redact(text: str, *secrets: Secret | None) -> str:
    """``text`` with every known secret replaced by ``***`` (for server messages shown to a person)."""
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), "***")
    return text
