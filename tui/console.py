"""How the command-line modes talk to a person: rich output on stderr, errors as title + hint."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from sagewiz.core.errors import WizardError
from sagewiz.tui.words import error_text

# Progress and messages go to stderr so stdout stays clean for --json and pipes.
err_console = Console(stderr=True, highlight=False)


def print_error(error: WizardError) -> None:
    """Show a WizardError the way every sagewiz command does: title, message, then what to do."""
    err_console.print(error_text(error))


def print_json_error(error: WizardError, **more) -> None:
    """A failed command's error as one JSON object on stdout, for a script that asked for --json:
    it gets what a person reads on stderr (title, message, what to do) and ``more`` (such as the
    step ``sagewiz run`` failed in) instead of an empty stdout it can't parse."""
    print(json.dumps({**error.to_dict(), **more}, indent=2, default=str), flush=True)


def go_ahead(refused: str, question: str, *, hint: str, declined: str = "") -> bool:
    """Ask ``question`` (a yes/no, "no" by default) on the terminal and say ``declined`` on a no.
    Without a terminal nobody can answer: raise InputError saying ``refused`` (what the command
    would do, and that it needs a go-ahead) and ``hint`` (the flag that gives it)."""
    from sagewiz.core.errors import InputError

    if not sys.stdin or not sys.stdin.isatty():
        raise InputError(refused, hint=hint)
    if input(f"{question} [y/N] ").strip().lower() in ("y", "yes"):
        return True
    if declined:
        err_console.print(declined)
    return False


class RateColumn(ProgressColumn):
    """How many things a second: "1,234 pictures/s" (nothing until there is a rate to say)."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        return Text(f"{speed:,.0f} {self.unit}/s" if speed >= 10 else f"{speed:.1f} {self.unit}/s", style="progress.data.speed")


def counting_progress(unit: str = "pictures", console: Console | None = None) -> Progress:
    """A rich Progress for counted work: description, bar, done/total, rate, time left; on
    stderr, cleared when done, hidden when stderr is not a terminal."""
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
                    RateColumn(unit), TimeRemainingColumn(),
                    console=console or err_console, transient=True, disable=not sys.stderr.isatty())


@contextmanager
def progress_bar(description: str, total: int, unit: str = "pictures") -> Iterator[callable]:
    """A progress bar on stderr with the rate and the time left; yields ``advance(n=1)``.
    Hidden when stderr is not a terminal."""
    progress = counting_progress(unit)
    with progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


@contextmanager
def transfer_bar(description: str) -> Iterator[callable]:
    """A byte-counting bar on stderr for a download or an upload; yields ``update(done, total)``
    as the core's callbacks report it. Nothing is shown for a transfer that needs no bytes (its
    first report is already complete: a model downloaded before), nor when stderr is not a terminal."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        TimeRemainingColumn(), console=err_console, transient=True, disable=not sys.stderr.isatty())
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            if done >= total:
                return
            task = progress.add_task(description, total=total)
        progress.update(task, completed=done, total=total)

    with progress:
        yield update


def fitted_table(headers, rows, *, give_way=(), beneath=None, justify=None, title: str | None = None,
                 width: int | None = None):
    """``rows`` (cells as markup) under ``headers``, made to read in ``width`` columns (default: the
    console's) with no value cut off. The columns take their natural widths while they fit; when
    they don't, the columns in ``give_way`` narrow, in that order, each to no less than the width
    given there (``(column, least)`` pairs), and their cells wrap at spaces (a longer word folds).
    ``beneath`` maps a column to another: its cell is a dim line of its own under the other's
    (``header: value``), reaching to the right edge, so that a long path or ARN neither squeezes
    every other column nor folds every few letters. ``justify`` maps a column to "right".
    A table that can't fit even so is shown as one block per row: its first cell, then the others
    as ``header: value`` lines; stacked, a row reads at any width, squeezed into columns of a few
    letters it doesn't."""
    from rich.console import Group
    from rich.text import Text

    beneath, justify = beneath or {}, justify or {}
    shown = [i for i in range(len(headers)) if i not in beneath]
    widths = {i: max([1, _natural_width(headers[i]), *(_natural_width(row[i]) for row in rows)]) for i in shown}
    over = sum(widths.values()) + _GAP * (len(shown) - 1) - (width or err_console.width)
    narrowed = set()
    for column, least in give_way:
        cut = min(max(over, 0), max(widths[column] - least, 0))
        if cut:
            widths[column] -= cut
            over -= cut
            narrowed.add(column)
    heading = [Text.from_markup(f"[i]{title}[/]")] if title else []
    if over > 0:
        return Group(*heading, *_blocks(headers, rows))
    parts = [_columns(headers, shown, widths, narrowed, justify)] if rows else []
    for row in rows:
        # every row is a table of its own with the same widths, so that a line beneath it can be
        # as wide as the screen instead of as one column
        line = _columns(headers, shown, widths, narrowed, justify, show_header=False)
        line.add_row(*(row[i] for i in shown))
        parts.append(line)
        for column, under in beneath.items():
            if row[column]:
                offset = sum(widths[i] + _GAP for i in shown[:shown.index(under)]) + 2  # indented: not a row of its own
                parts.append(_indented(f"[dim]{headers[column]}: {row[column]}[/]", offset))
    return Group(*heading, *parts)


_GAP = 3  # between two columns: a space, the divider's, a space


def _natural_width(cell) -> int:
    """A cell's width with nothing wrapped: its widest line, markup left out."""
    from rich.text import Text

    return max((Text(line).cell_len for line in Text.from_markup(str(cell)).plain.split("\n")), default=0)


def _columns(headers, shown, widths, narrowed, justify, show_header: bool = True):
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_header=show_header)
    for i in shown:
        table.add_column(headers[i], width=widths[i], justify=justify.get(i, "left"),
                         overflow="fold" if i in narrowed else "ellipsis", no_wrap=i not in narrowed)
    return table


def _blocks(headers, rows) -> list:
    from rich.text import Text

    lines = []
    for row in rows:
        lines.append(Text.from_markup(f"[b]{row[0]}[/]", overflow="fold"))
        lines += [_indented(f"{headers[i]}: {row[i]}" if headers[i] else row[i], 2) for i in range(1, len(headers)) if row[i]]
    return lines


def _indented(markup: str, by: int):
    from rich.padding import Padding
    from rich.text import Text

    return Padding(Text.from_markup(markup, overflow="fold"), (0, 0, 0, by))
