"""``parrot tokens`` and ``parrot tokenizer train``: the /tokens and /tokenizer commands for scripts.

The argument parsers live here and the slash-commands reuse them, so both accept the same words.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from backends.errors import UsageError

MODEL = "model"  # in --tokenizer and --compare: the tokenizer of the model being chatted with


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so a slash-command can report it."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # On the command line the hint names --help; a slash-command's usage line is added where it runs.
        raise UsageError(message, None if self.prog.startswith("/") else f"{self.prog} --help lists the options")


def tokens_parser(prog: str = "parrot tokens", add_help: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, add_help=add_help,
                     description="Show how text becomes tokens: spans, ids, offsets, and the count "
                                 "against the model's context window.")
    parser.add_argument("text", nargs="*", help="the text (default: stdin when piped)")
    parser.add_argument("--tokenizer", metavar="NAME|PATH",
                        help=f"'{MODEL}' (default), a tokenizer trained with `parrot tokenizer train`, "
                             "a tokenizer.json, a model folder, preset or Hub id")
    parser.add_argument("--compare", metavar="A,B,...",
                        help=f"show the text under several tokenizers side by side, e.g. {MODEL},wordpiece")
    return parser


def tokenizer_parser(prog: str = "parrot tokenizer", add_help: bool = True,
                     background: bool = False) -> argparse.ArgumentParser:
    """The parser of ``tokenizer train|list``; ``background`` adds --wait (the slash-command trains in a thread)."""
    from finetune.tokenizer import MODELS

    parser = _Parser(prog=prog, add_help=add_help,
                     description="Train a WordPiece or BPE tokenizer (the tokenizers library) on wikitext-103 or your "
                                 "own text, and list the tokenizers trained so far.")
    sub = parser.add_subparsers(dest="action", metavar="train|list", parser_class=_Parser)
    sub.required = True
    train = sub.add_parser("train", add_help=add_help,
                           help="train WordPiece (or BPE) on wikitext-103 (first 20%%) or local text",
                           description="Train a tokenizer and save it under a name that /tokens --tokenizer and "
                                       "parrot tokens --tokenizer take.")
    train.add_argument("--data", nargs="+", default=["hub"], metavar="hub|PATH",
                       help="'hub' for Salesforce/wikitext (default), or text files and folders")
    train.add_argument("--vocab", type=int, default=12_000, metavar="N", help="vocabulary size (default 12000)")
    train.add_argument("--model", choices=MODELS, default="wordpiece", help="wordpiece (default) or bpe")
    train.add_argument("--name", help="save as NAME (default: the model kind); use with --tokenizer NAME")
    if background:
        train.add_argument("--wait", action="store_true", help="block until training ends (scripts)")
    sub.add_parser("list", add_help=add_help, help="list the tokenizers parrot has trained")
    return parser


def tokenizer_specs(args: argparse.Namespace) -> list[str]:
    """The tokenizers a /tokens call names: one, or the --compare list."""
    if args.compare is not None:
        if args.tokenizer:
            raise UsageError("give --tokenizer or --compare, not both")
        specs = [s.strip() for s in args.compare.split(",") if s.strip()]
        if not specs:
            raise UsageError("--compare needs tokenizer names", f"e.g. --compare {MODEL},wordpiece")
        return specs
    return [args.tokenizer or MODEL]


def tokens_main(argv: Sequence[str]) -> int:
    """``parrot tokens "TEXT" [--json] [--tokenizer NAME] [--compare A,B] [-m MODEL]``."""
    from backends.loading.tokenizer_source import load_tokenizer, model_tokenizer
    from backends.token_spans import token_spans

    from ..views.token_tables import compare_view, tokens_json, tokens_view
    from .config import load_config

    parser = tokens_parser()
    parser.add_argument("-m", "--model", help=f"the model whose tokenizer '{MODEL}' means (default: the model in config.toml, else smollm2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_intermixed_args(list(argv))
    if args.text:
        text = " ".join(args.text)
    elif sys.stdin is not None and not sys.stdin.isatty():
        from ..modes.oneshot import read_stdin

        text = read_stdin()
    else:
        text = ""
    if not text:
        raise UsageError("nothing to tokenize", 'pass the text, e.g. parrot tokens "Hello, world!", or pipe it in')
    model = args.model or load_config().model
    loaded = [model_tokenizer(model) if spec == MODEL else load_tokenizer(spec) for spec in tokenizer_specs(args)]
    results = [(named, token_spans(named.tokenizer, text)) for named in loaded]
    if args.json:
        if args.compare is None:
            payload = {"text": text, **tokens_json(*results[0])}
        else:
            payload = {"text": text, "compare": [tokens_json(*r) for r in results]}
        print(json.dumps(payload, ensure_ascii=False))
        return 0
    from rich.console import Console

    Console().print(compare_view(results) if args.compare is not None else tokens_view(*results[0]))
    return 0


def tokenizer_main(argv: Sequence[str]) -> int:
    """``parrot tokenizer train [--data hub|PATH ...] [--vocab N] [--model wordpiece|bpe] [--name NAME]``."""
    args = tokenizer_parser().parse_args(list(argv))
    if args.action == "list":
        from backends.loading.tokenizer_source import trained_dir, trained_names

        for name in trained_names():
            print(f"{name}\t{trained_dir(name) / 'tokenizer.json'}")
        return 0
    from finetune.tokenizer import train

    result = train(args.data, vocab_size=args.vocab, model=args.model, name=args.name,
                   progress=lambda message: print(f"parrot: {message}", file=sys.stderr, flush=True))
    print(result.path)
    return 0
