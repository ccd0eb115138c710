"""/login and /logout, and the ``parrot login`` / ``parrot logout`` subcommands that share their code.

A token is read without echo (the chat's secret prompt, or getpass in a terminal) and never taken
from the command line, where other users could read it in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from backends import credentials
from backends.errors import UsageError
from backends.hosted.httpclient import check_base_url

from .context import Context
from .table import command


def _split(args: list[str]) -> tuple[bool, str | None]:
    """(--status given, --base-url value) from slash-command arguments."""
    wants_status, base_url, rest = False, None, list(args)
    while rest:
        word = rest.pop(0)
        if word in ("--status", "status"):
            wants_status = True
        elif word == "--base-url" and rest:
            base_url = _url(rest.pop(0))
        elif word.startswith("--base-url="):
            base_url = _url(word.split("=", 1)[1])
        else:
            raise UsageError(f"unexpected argument {word!r}; a token is never typed on the command line",
                             "run /login alone and paste the token when asked")
    return wants_status, base_url


def _url(text: str) -> str:
    """A --base-url value, refused unless it is an http(s) address (a key is bound to its origin)."""
    return check_base_url(text)


def _prompt(base_url: str | None) -> str:
    return f"key for {base_url} (input hidden): " if base_url else "Hugging Face token (input hidden): "


@command("login", "/login [--status] [--base-url URL]",
         "store a token in the OS keyring; --status: where it comes from",
         group="backends", arguments=("--status", "--base-url"))
def login_(ctx: Context, args: list[str]) -> None:
    wants_status, base_url = _split(args)
    if wants_status:
        ctx.ui.show(credentials.status(base_url))
        return
    token = ctx.ui.read_secret(_prompt(base_url))
    if token is None:
        ctx.ui.show("login cancelled; nothing was stored")
        return
    ctx.ui.show(credentials.login(token, base_url))


@command("logout", "/logout [--base-url URL]", "remove the stored token from the OS keyring",
         group="backends", arguments=("--base-url",))
def logout_(ctx: Context, args: list[str]) -> None:
    wants_status, base_url = _split(args)
    if wants_status:
        raise UsageError("/logout has no --status", "use /login --status")
    ctx.ui.show(credentials.logout(base_url))


# -- the subcommands -------------------------------------------------------------------------------


def _parser(name: str, summary: str, base_url_help: str) -> argparse.ArgumentParser:
    from ..cli.usage import Parser

    parser = Parser(prog=f"parrot {name}", description=summary)
    parser.add_argument("--base-url", metavar="URL", type=_url, help=base_url_help)
    return parser


def login_main(argv: list[str]) -> int:
    """``parrot login``: read a token without echo (or one line from a pipe) and store it."""
    parser = _parser("login", "Store a Hugging Face token in the OS keyring (read without echo; a piped "
                              "token is read from stdin). Lookup order: HF_TOKEN, the keyring, the token "
                              "file of `hf auth login`.",
                     "store a key for this OpenAI-compatible server instead of the Hugging Face token; it is "
                     "sent to that server only")
    parser.add_argument("--status", action="store_true", help="say where the token comes from (never prints it)")
    args, extra = parser.parse_known_args(argv)
    if extra:  # most likely a pasted token: refuse without echoing it back
        raise UsageError("parrot login takes no token on the command line (other users can read it there)",
                         "run `parrot login` and paste the token when asked, or pipe it in")
    if args.status:
        print(credentials.status(args.base_url))
        return 0
    if sys.stdin is not None and sys.stdin.isatty():
        token = getpass.getpass(_prompt(args.base_url))
    else:
        token = sys.stdin.readline() if sys.stdin is not None else ""
    print(credentials.login(token, args.base_url))
    return 0


def logout_main(argv: list[str]) -> int:
    """``parrot logout``: remove the stored token."""
    parser = _parser("logout", "Remove the Hugging Face token (or a server's key) from the OS keyring.",
                     "remove the key stored for this OpenAI-compatible server instead of the Hugging Face token")
    args = parser.parse_args(argv)
    print(credentials.logout(args.base_url))
    return 0
