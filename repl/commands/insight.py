"""Commands that look inside the model: /tokens, /tokenizer and /probs."""

from __future__ import annotations

import re

from rich.text import Text

from backends.errors import Cancelled, ParrotError, UsageError

from ..chat.session import Session, Turn
from ..cli.tokens import MODEL, tokenizer_parser, tokenizer_specs, tokens_parser
from .context import Context
from .table import command, require


def session_tokenizer(session: Session, spec: str):
    """``model`` means the chat's model: its loaded tokenizer if it is loaded, else just its tokenizer."""
    from backends.loading.tokenizer_source import from_fast, load_tokenizer, model_tokenizer

    if spec != MODEL:
        return load_tokenizer(spec)
    backend = session.backend
    name = getattr(backend, "model_name", None) or session.model
    if not name:
        raise UsageError(f"the {session.backend_name} backend names no model whose tokenizer to use",
                         "pick one with --tokenizer NAME|PATH")
    if getattr(backend, "is_loaded", False):
        return from_fast(name, backend.tokenizer, backend.context_window)
    # Loading the weights only to count tokens would take seconds; the tokenizer alone is enough.
    return model_tokenizer(name)


@command("tokens", "/tokens [--tokenizer T|--compare A,B] [TEXT]",
         "TEXT as typed (default: the last message) as tokens, ids, offsets, share of window",
         group="inside the model", verbatim=True)
def tokens_(ctx: Context, args: list[str]) -> None:
    from backends.token_spans import token_spans

    from ..views.token_tables import compare_view, tokens_view

    flags, typed = split_flags(args[0] if args else "")
    parsed = tokens_parser("/tokens", add_help=False).parse_intermixed_args(flags)
    if typed:
        text = typed  # every space, indent and line as typed: what is counted is what was given
    elif ctx.session.conversation.turns:
        text = ctx.session.conversation.turns[-1].message.content
    else:
        raise UsageError("nothing to tokenize yet", "give the text: /tokens Hello, world!")
    results = [(named, token_spans(named.tokenizer, text))
               for named in (session_tokenizer(ctx.session, spec) for spec in tokenizer_specs(parsed))]
    ctx.ui.show(compare_view(results) if parsed.compare is not None else tokens_view(*results[0]))


@command("tokenizer", "/tokenizer train|list [OPTIONS]",
         "train WordPiece/BPE in the background (options: parrot tokenizer train --help)",
         group="inside the model", arguments=("train", "list"))
def tokenizer_(ctx: Context, args: list[str]) -> None:
    from backends.loading.tokenizer_source import trained_names

    parsed = tokenizer_parser("/tokenizer", add_help=False, background=True).parse_args(args)
    if parsed.action == "list":
        names = trained_names()
        ctx.ui.show(Text("\n".join(names) if names else "no tokenizers trained yet: /tokenizer train --data PATH"))
        return
    if parsed.wait:  # blocking, for scripts: a failure is this command's error, with its exit code
        _train(ctx, parsed, raise_errors=True)
        return
    if ctx.background.running("tokenizer training"):
        raise UsageError("a tokenizer is already being trained", "wait for it to finish")
    ctx.ui.show(Text("training in the background; progress follows, keep chatting", "dim"))
    ctx.background.start("tokenizer training", lambda: _train(ctx, parsed))


def _train(ctx: Context, parsed, raise_errors: bool = False) -> None:
    """Train and report through ctx.ui.show (which the modes make thread-safe).

    In the background a failure is shown, or handed to ``ctx.background.errors`` where a
    mode collects them (a script reports them on stderr and in its exit code when it ends).
    """
    from finetune.tokenizer import train

    from ..crash import unexpected

    try:
        with ctx.activity.run("tokenizer") as cancel:  # Esc stops it while it reads; quitting, always
            result = train(parsed.data, vocab_size=parsed.vocab, model=parsed.model, name=parsed.name,
                           progress=lambda message: ctx.ui.show(Text(f"tokenizer: {message}", "dim")), cancel=cancel)
    except Exception as error:  # noqa: BLE001  nobody waits on this thread: say it failed, never vanish
        failure = error if isinstance(error, ParrotError) else unexpected(error, "tokenizer training")
        if not isinstance(failure, Cancelled):
            failure = type(failure)(f"tokenizer training failed: {failure.message}", failure.hint)
        if raise_errors:
            raise failure from None
        if ctx.background.errors is not None:
            ctx.background.errors.append(failure)
        else:
            ctx.ui.show(Text(str(failure), "red"))
        return
    ctx.ui.show(Text(f"tokenizer '{result.name}' is ready: /tokens --tokenizer {result.name} TEXT, "
                     f"or /tokens --compare {MODEL},{result.name} TEXT"))


@command("probs", "/probs [N [--pick K]]", "the last answer shaded by confidence; N: the top five at position N; "
         "--pick K: branch there with alternative K",
         group="inside the model")
def probs_(ctx: Context, args: list[str]) -> None:
    from ..views.token_tables import probs_view

    if "--pick" in args:
        return _branch(ctx, args)
    require(args, (0, 1))
    turn = ctx.session.conversation.last("assistant")
    if turn is None:
        raise UsageError("there is no answer yet", "ask something first, then /probs")
    if not turn.tokens:
        backend = turn.stats.backend if turn.stats and turn.stats.backend else ctx.session.backend_name
        ctx.ui.show(Text(f"per-token probabilities are not available for this backend ({backend}): "
                         "it did not return log-probabilities"))
        return
    position = None
    if args:
        try:
            position = int(args[0])
        except ValueError:
            position = -1
        if not 0 <= position < len(turn.tokens):
            raise UsageError(f"there is no position {args[0]}",
                             f"give a position from 0 to {len(turn.tokens) - 1} (the # column)")
    view = probs_view(turn.tokens, position, answer_pieces(ctx.session, turn))
    ctx.probs_position = position
    if position is not None and turn.tokens[position].top_ids:
        from rich.console import Group

        keys = getattr(ctx.ui, "pick_keys", "")  # a mode with keys for it says which
        view = Group(view, Text(f"branch here with alternative K: /probs {position} --pick K{keys}"))
    ctx.ui.show(view)


def answer_pieces(session: Session, turn: Turn) -> list[str] | None:
    """Per-token text that keeps split characters whole, when the turn's own tokenizer is at hand."""
    from backends.local.text_stream import Detokenizer

    backend = session.backend
    same_model = turn.stats is not None and turn.stats.model == getattr(backend, "model_name", None)
    if not (same_model and getattr(backend, "is_loaded", False)):
        return None  # another model's ids would decode to the wrong text
    tokenizer = backend.tokenizer
    detokenizer, special = Detokenizer(tokenizer), set(tokenizer.all_special_ids)
    # The first half of a split character decodes to nothing; the token that completes it shows it.
    return [detokenizer.push(t.token_id) or (t.text if t.token_id in special else "") for t in turn.tokens]


def _branch(ctx: Context, args: list[str]) -> None:
    """/probs N --pick K: the reply cut at N, alternative K forced, the rest generated as a new branch."""
    usage = "usage: /probs N --pick K (N: the # column of /probs, K: 1 to 5 in /probs N)"
    try:
        at = args.index("--pick")
        position, pick = int(args[0]), int(args[at + 1])
    except (ValueError, IndexError):
        raise UsageError("give a position and an alternative", usage) from None
    if len(args) != 3 or at != 1:
        raise UsageError("give a position and an alternative", usage)
    conversation = ctx.session.conversation
    turn = conversation.last("assistant")
    if turn is None or conversation.turns[-1] is not turn:
        raise UsageError("there is no answer to branch from", "ask something first, then /probs N --pick K")
    from ..chat.token_branch import forced_prefix

    forced_prefix(turn, position, pick)  # a position or pick out of range is refused here, before anything runs
    ctx.probs_position = None  # the view it was for shows the old reply
    ctx.ui.generate(branch=(position, pick))


# A /tokens option with its value, a word of its own anywhere in the line.
_FLAG = re.compile(r"(?:^|(?<=\s))(--(?:tokenizer|compare)(?:=|[ \t]+)\S+)(?:[ \t]+|$)")


def split_flags(line: str) -> tuple[list[str], str]:
    """``a    b --tokenizer gpt2`` -> (["--tokenizer", "gpt2"], "a    b"): the options, and the text
    around them exactly as typed (an option and the spaces after it go; at the end, the spaces before it)."""
    matches = list(_FLAG.finditer(line))
    flags = [word for match in matches for word in match.group(1).split()]
    if matches:
        at_end = matches[-1].end() == len(line)
        line = _FLAG.sub("", line)
        line = line.rstrip(" \t") if at_end else line  # the spaces that led to a last option go with it
    if len(line) >= 2 and line[0] == line[-1] == '"' and '"' not in line[1:-1]:
        line = line[1:-1]  # quoted whole, as on the command line: the quotes are not part of the text
    return flags, line
