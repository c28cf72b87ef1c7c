"""How the command-line modes talk to a person: rich output on stderr, errors as title + hint."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[callable]:
    """A progress bar on stderr; yields ``advance(n=1)``. Hidden when stderr is not a terminal."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not sys.stderr.isatty(),
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
