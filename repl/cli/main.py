"""The ``parrot`` command: reads arguments, picks the mode, maps errors to exit codes.

Modes: one-shot (a prompt argument, ``-p``, or piped stdin), ``--script``, ``--plain``, or the
Textual app. Subcommands (``parrot tokens``, ``parrot finetune`` ...) run the same functions as the
slash-commands. Nothing heavy is imported here so that ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Callable, Sequence

from backends.errors import ParrotError, UsageError

from ..crash import unexpected
from ..views.terminal_text import neutral
from .exits import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, exit_code, signal_exit
from .setting_flags import add_backend_flags, add_setting_flags, settings_from_args
from .usage import Parser

# name -> ("module:function", summary). Each function takes argv (a list) and returns an exit code.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "history": ("repl.history.store:history_command", "list stored conversations, or print one"),
    "login": ("repl.commands.auth:login_main", "store a Hugging Face token in the OS keyring (--status: where from)"),
    "logout": ("repl.commands.auth:logout_main", "remove the stored token from the OS keyring"),
    "tokens": ("repl.cli.tokens:tokens_main", "show how text becomes tokens (--json for scripts)"),
    "tokenizer": ("repl.cli.tokens:tokenizer_main", "train a WordPiece/BPE tokenizer (tokenizer train --help)"),
    "finetune": ("repl.commands.finetune:main", "fine-tune a model on JavaScript (Ctrl-C stops; run again to resume)"),
    "eval": ("repl.commands.evaluate:main", "judge a model by running its code: HumanEval pass@k (eval --help)"),
}


def build_parser() -> argparse.ArgumentParser:
    from backends import registry  # the table of names alone: light enough for --help

    sub_help = "\n".join(f"  parrot {name:<10} {summary}" for name, (_, summary) in SUBCOMMANDS.items())
    parser = Parser(
        prog="parrot",
        description="A chat-style terminal assistant for code models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  parrot                                   chat in the terminal app\n"
            "  parrot -p 'Write a Python function that adds two numbers'\n"
            "  cat f.py | parrot 'explain this'         answer once, on stdout\n"
            "  echo 'def add(a, b):' | parrot -m codeparrot --greedy\n"
            "  cat f.py | parrot --chat 'explain this'  answer, then go on chatting\n"
            "  parrot --continue                        resume the last conversation\n"
            "  parrot --script chat.txt                 run commands and prompts from a file\n"
            + (f"\nsubcommands (each has --help):\n{sub_help}\n" if sub_help else "")
            + "\nexit codes: 0 ok, 1 backend or model failure, 2 usage error, 130 interrupted"
        ),
    )
    parser.add_argument("prompt", nargs="*", help="answer this once and exit (piped stdin is sent before it)")
    parser.add_argument("-p", "--prompt", dest="prompt_option", metavar="TEXT", help="answer TEXT once and exit")
    source = parser.add_argument_group("model")
    source.add_argument("-b", "--backend", help=f"{', '.join(registry.BACKENDS)} (default {registry.DEFAULT_BACKEND})")
    source.add_argument("-m", "--model", help="preset (smollm2, codeparrot, js), Hub id, folder or .gguf file")
    add_backend_flags(source)
    add_setting_flags(parser.add_argument_group("generation"))
    mode = parser.add_argument_group("mode")
    mode.add_argument("-c", "--continue", dest="resume", action="store_true",
                      help="resume the last conversation, on the model and settings it was made with "
                           "(flags given win; `parrot history` lists conversations)")
    mode.add_argument("--plain", action="store_true", help="a line-by-line prompt instead of the full-screen app")
    mode.add_argument("--chat", action="store_true",
                      help="answer the prompt (and piped stdin), then go on chatting in the app on the terminal")
    mode.add_argument("--script", metavar="FILE", help="run commands and prompts from FILE (- for stdin) as if typed")
    mode.add_argument("--keep-going", action="store_true", help="with --script: run on after an error")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="one-shot: print one JSON object with text, tokens, timing")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)

    def run() -> int:
        if argv and argv[0] in SUBCOMMANDS:
            return _run_subcommand(argv[0], argv[1:])
        return _run_chat(build_parser().parse_args(argv))

    return guarded(run)


def guarded(run: Callable[[], int]) -> int:
    """Run ``run`` and turn whatever it raises into one line on stderr and an exit code (every mode)."""
    try:
        return run()
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", None)
        print("parrot: interrupted" if signum is None else "parrot: stopped by a signal", file=sys.stderr)
        return EXIT_INTERRUPTED if signum is None else signal_exit(signum)
    except BrokenPipeError:  # the reader left early (`parrot ... | head`): stop quietly, as shell tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail
        return EXIT_OK
    except ParrotError as error:
        print(f"parrot: {neutral(str(error))}", file=sys.stderr)
        return exit_code(error)
    except Exception as error:  # noqa: BLE001  a bug: one line here, the traceback in the log
        print(f"parrot: {unexpected(error)}", file=sys.stderr)
        return EXIT_FAILURE


def _run_subcommand(name: str, argv: list[str]) -> int:
    target, _ = SUBCOMMANDS[name]
    module, _, function = target.partition(":")
    run: Callable[[list[str]], int] = getattr(importlib.import_module(module), function)
    return run(argv)


def chat_setup(args: argparse.Namespace) -> tuple[str, str | None, Any, dict[str, Any]]:
    """(backend, model, settings, backend options): the config file with the flags over it."""
    from backends.backend_options import OPTIONS, layered

    from .config import load_config

    config = load_config()
    settings = settings_from_args(config.settings, args)
    options = layered({name: getattr(args, name) for name in OPTIONS}, config.options)
    return args.backend or config.backend, args.model or config.model, settings, options


def _run_chat(args: argparse.Namespace) -> int:
    from ..modes.interrupt import stop_on_signals

    backend, model, settings, options = chat_setup(args)
    resume = _resume(args)
    prompt = " ".join(args.prompt) if args.prompt else None
    if args.prompt_option is not None:
        if prompt:
            raise UsageError("give the prompt either as an argument or with -p, not both")
        prompt = args.prompt_option
    if args.script is not None:
        if prompt is not None:
            raise UsageError("--script runs the prompts in the script", "drop the prompt argument or -p")
        from ..modes.script import run_script

        stop_on_signals()  # SIGTERM/SIGHUP stop a reply as Ctrl-C does, so what arrived is kept
        return run_script(args.script, backend, model, settings, options, keep_going=args.keep_going,
                          resume=resume, quiet=args.quiet)
    if args.keep_going:
        raise UsageError("--keep-going only applies to --script", "add --script FILE")
    stdin_is_pipe = sys.stdin is not None and not sys.stdin.isatty()
    if args.chat:
        return _run_piped_chat(args, backend, model, settings, options, prompt, stdin_is_pipe)
    if prompt is not None or stdin_is_pipe:
        if args.resume:
            raise UsageError("--continue resumes a chat, not a one-shot answer",
                             "drop the prompt, or use --script - to add prompts to the last conversation")
        from ..modes.oneshot import answer_once, read_stdin

        stop_on_signals()
        piped = read_stdin() if stdin_is_pipe else None
        return answer_once(backend, model, settings, options, prompt, piped, as_json=args.json, quiet=args.quiet)
    if args.json:
        raise UsageError("--json needs a prompt", "pass one with -p TEXT or pipe text in")
    if args.plain:
        from ..modes.plain import run_plain

        return run_plain(backend, model, settings, options, resume=resume)
    from ..modes.app_host import run_app

    return run_app(backend, model, settings, options, resume=resume)


def _resume(args: argparse.Namespace) -> Any:
    """--continue, with what the command line named outright: it wins over what the conversation was made with."""
    if not args.resume:
        return False
    from backends.settings import SPECS

    from ..chat.setup import Resume

    named = {"backend": args.backend, "model": args.model, **{name: getattr(args, name, None) for name in SPECS}}
    return Resume(frozenset(name for name, value in named.items() if value not in (None, False)))


def _run_piped_chat(args: argparse.Namespace, backend: str, model: str | None, settings, options: dict,
                    prompt: str | None, stdin_is_pipe: bool) -> int:
    """--chat: the first prompt (with piped stdin attached) answered in the chat, which then goes on."""
    from ..modes.oneshot import read_stdin
    from ..modes.piped_chat import check_terminal, first_prompt, take_terminal

    if args.json or args.resume:
        raise UsageError("--chat starts a new chat", "drop --json and --continue")
    terminal = check_terminal()
    first = first_prompt(prompt, read_stdin() if stdin_is_pipe else None)
    take_terminal(terminal)
    if args.plain:
        from ..modes.plain import run_plain

        return run_plain(backend, model, settings, options, first=first)
    from ..modes.app_host import run_app

    return run_app(backend, model, settings, options, first=first)


def entry() -> None:
    """Console-script entry point."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())


if __name__ == "__main__":
    entry()
