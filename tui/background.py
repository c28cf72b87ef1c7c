"""The screens' background work. core/ runs in a thread so the screen keeps drawing.

A WizardError is the screen's to show: each worker catches the ones it can meet and says what to
do. Anything else is a bug in sagewiz, and Textual, told not to exit on it, would drop it silently:
a list that never fills, a Next button never enabled, with no word of why. So every worker runs
guarded: the user is told, in one message, that it's sagewiz's fault, what to do,
and where the details are; the full traceback goes to a file beside the ledger, not the screen.
The commands (tui/cli.py) say a bug the same way, with ``fault_report``.
"""

from __future__ import annotations

import functools
import time
import traceback
from pathlib import Path

from textual import work

ERRORS_LOG = "errors.log"
UNEXPECTED = "Something sagewiz did not expect"


def in_background(*, exclusive: bool = False, group: str = "default"):
    """``@work(thread=True)`` for a screen's or widget's method, with unexpected errors said (see above).
    ``exclusive`` cancels the same group's running worker when a new one starts."""
    def decorate(method):
        @functools.wraps(method)
        def guarded(node, *args, **kwargs):
            try:
                return method(node, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 - the expected ones were caught inside; this is a bug
                say_unexpected(node, error)

        return work(thread=True, exclusive=exclusive, group=group, exit_on_error=False)(guarded)

    return decorate


def say_unexpected(node, error: BaseException) -> None:
    """Tell the user about an error nobody expected, from a worker thread; keep its traceback."""
    from sagewiz.core.errors import WizardError

    if isinstance(error, WizardError):  # one a worker let through: it says what to do itself
        from sagewiz.tui.screens.common import error_text

        message, title, timeout = error_text(error), "", 30
    else:
        message = fault_report(error, f"the wizard's {type(node).__name__}",
                               "Go Back and try again, or quit (ctrl+q): the next sagewiz offers to pick the run up.")
        title, timeout = UNEXPECTED, 60
    try:
        node.app.call_from_thread(node.app.notify, message, title=title, severity="error", timeout=timeout)
    except RuntimeError:  # the app is closing: the log has a bug's details
        pass


def fault_report(error: BaseException, where: str, what_next: str) -> str:
    """A bug, as markup for the wizard and the commands alike: the error in a line, whose fault it is,
    ``what_next``, and where its traceback was written (here, with ``where`` it happened)."""
    from rich.markup import escape

    from sagewiz.tui.screens.folders import shown_path

    text = (f"[b]{escape(type(error).__name__)}:[/] {escape(str(error))}\n"
            f"This is a fault in sagewiz, not in what you did; your pictures are untouched.\n"
            f"[yellow]What to do:[/] {escape(what_next)}")
    log = write_down(error, where)
    if log is not None:
        text += f"\nThe details are in {escape(shown_path(log))}: please attach it to a bug report."
    return text


def write_down(error: BaseException, where: str) -> Path | None:
    """Append the error's traceback, and ``where`` it happened, to the errors log beside the ledger.
    The log's path, or None if it can't be written."""
    from sagewiz.core.ledger import default_ledger_path

    path = default_ledger_path().parent / ERRORS_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} in {where}\n")
            log.write("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return path
