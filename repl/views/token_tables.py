"""Rich views of what the model sees: token spans, tokenizer comparisons, per-token probabilities.

Each function returns a Rich renderable, so the Textual app, the plain REPL and scripts show the same
thing; without colour (a pipe, a script) the tables still carry every fact.
"""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text

from backends.loading.tokenizer_source import NamedTokenizer
from backends.reply import TokenChoice
from backends.token_spans import NEWLINE_MARK, Span, visible

# Two alternating backgrounds mark where one token ends and the next begins.
TOKEN_STYLES = ("black on #a6d8ff", "black on #ffd59e")
GAP_STYLE = "dim"
MAX_ROWS = 200  # a long message's table would bury the coloured text above it


def spans_text(spans: list[Span]) -> Text:
    """The input text, each token on an alternating background; text no token covers stays plain."""
    text = Text()
    index = 0
    for span in spans:
        if not span.is_token:
            text.append(span.text, GAP_STYLE)
            continue
        text.append(span.text, TOKEN_STYLES[index % 2])
        index += 1
    return text


def count_line(count: int, window: int | None) -> Text:
    """'12 tokens of the 8,192-token context window (0.1%)', or just the count without a model."""
    noun = "token" if count == 1 else "tokens"
    if not window:
        return Text(f"{count:,} {noun}")
    share = 100 * count / window
    line = Text(f"{count:,} {noun} of the {window:,}-token context window ({share:.1f}%)")
    if count > window:
        line.append(f"; {count - window:,} too many: the beginning would be cut", "bold red")
    return line


def tokens_table(spans: list[Span]) -> Table:
    """One row per token (the first MAX_ROWS): position, token as the vocabulary spells it, id, offsets."""
    table = Table(box=None, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("token")
    table.add_column("id", justify="right")
    table.add_column("offsets", justify="right", style="dim")
    tokens = [s for s in spans if s.is_token]
    for index, span in enumerate(tokens[:MAX_ROWS]):
        table.add_row(str(index), Text(span.token, TOKEN_STYLES[index % 2]), str(span.token_id),
                      f"{span.start}-{span.end}")
    if len(tokens) > MAX_ROWS:
        table.add_row("", Text(f"... {len(tokens) - MAX_ROWS:,} more (parrot tokens --json lists all)", "dim"), "", "")
    return table


def tokens_view(named: NamedTokenizer, spans: list[Span]) -> Group:
    """The full /tokens answer for one tokenizer: heading, coloured text, table, count."""
    count = sum(1 for s in spans if s.is_token)
    heading = Text.assemble(("tokenizer ", "dim"), (named.name, "bold"))
    return Group(heading, spans_text(spans), tokens_table(spans), count_line(count, named.window))


def compare_view(results: list[tuple[NamedTokenizer, list[Span]]]) -> Table:
    """The same text under several tokenizers, side by side, each with its token count."""
    table = Table(show_lines=False, pad_edge=False, expand=False)
    for named, spans in results:
        count = sum(1 for s in spans if s.is_token)
        table.add_column(Text(f"{named.name}\n{count:,} token{'s' if count != 1 else ''}"), overflow="fold")
    table.add_row(*(spans_text(spans) for _, spans in results))
    table.add_row(*(Text(" ".join(s.token for s in spans if s.is_token), "dim") for _, spans in results))
    return table


def tokens_json(named: NamedTokenizer, spans: list[Span]) -> dict[str, Any]:
    """The machine-readable form printed by ``parrot tokens --json``."""
    tokens = [{"token": s.token, "id": s.token_id, "start": s.start, "end": s.end, "text": s.text}
              for s in spans if s.is_token]
    return {"tokenizer": named.name, "count": len(tokens), "context_window": named.window, "tokens": tokens}


def label(text: str) -> str:
    """A produced token as a table cell: whitespace visible, control characters escaped, never blank."""
    shown = visible(text)
    if not shown.isprintable():
        shown = shown.encode("unicode_escape").decode("ascii")
    return shown or "∅"


def _confidence_style(prob: float) -> Style:
    # Red for a guess, green for certainty: the background blends between the two.
    low, high = (0xF4, 0x8F, 0x8F), (0x9F, 0xE0, 0x9F)
    rgb = [round(a + (b - a) * prob) for a, b in zip(low, high)]
    return Style(color="black", bgcolor=Color.from_rgb(*rgb))


def probs_text(tokens: list[TokenChoice], pieces: list[str] | None = None) -> Text:
    """The answer with each token shaded by the probability the model gave it.

    ``pieces`` (one per token, from incremental decoding) keep characters split over several tokens
    whole; without them each token's own text is shown, which turns such halves into U+FFFD.
    """
    text = Text()
    for token, piece in zip(tokens, pieces or [t.text for t in tokens]):
        # A newline has no background to shade, so a token ending a line shows a visible mark first.
        text.append(piece.replace("\n", f"{NEWLINE_MARK}\n"), _confidence_style(token.prob))
    return text


def alternatives_table(tokens: list[TokenChoice], position: int) -> Table:
    """The five tokens the model found most likely at ``position``, the chosen one marked."""
    chosen = tokens[position]
    table = Table(box=None, pad_edge=False, title=Text(f"position {position}: {label(chosen.text)}"),
                  title_justify="left")
    table.add_column("rank", justify="right", style="dim")
    table.add_column("token")
    table.add_column("probability", justify="right")
    table.add_column("")
    for rank, (text, prob) in enumerate(chosen.top, 1):
        table.add_row(str(rank), Text(label(text)), f"{prob:.1%}", "chosen" if text == chosen.text else "")
    if all(text != chosen.text for text, _ in chosen.top):
        table.add_row("-", Text(label(chosen.text)), f"{chosen.prob:.1%}", "chosen (sampled)")
    return table


def least_confident_table(tokens: list[TokenChoice], count: int = 5) -> Table:
    """The positions where the model was least sure: where to look with ``/probs N``."""
    table = Table(box=None, pad_edge=False, title="least confident positions", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("token")
    table.add_column("probability", justify="right")
    table.add_column("runner-up")
    worst = sorted(range(len(tokens)), key=lambda i: tokens[i].prob)[:count]
    for i in sorted(worst):
        token = tokens[i]
        runner = next(((t, p) for t, p in token.top if t != token.text), None)
        table.add_row(str(i), Text(label(token.text)), f"{token.prob:.1%}",
                      Text(f"{label(runner[0])} {runner[1]:.1%}" if runner else ""))
    return table


def probs_view(tokens: list[TokenChoice], position: int | None = None, pieces: list[str] | None = None) -> Group:
    """The /probs answer: the shaded text, then one position's alternatives or the least sure ones."""
    mean = sum(t.prob for t in tokens) / len(tokens)
    summary = Text(f"{len(tokens)} tokens, mean probability {mean:.1%} (red: unsure, green: sure)", "dim")
    detail = alternatives_table(tokens, position) if position is not None else least_confident_table(tokens)
    return Group(probs_text(tokens, pieces), summary, detail)
