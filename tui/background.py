"""The screens' background work. core/ runs in a thread so the screen keeps drawing.

A WizardError is the screen's to show: each worker catches the ones it can meet and says what to
do. Anything else is a bug in sagewiz, and Textual, told not to exit on it, would drop it silently:
a list that never fills, a Next button never enabled, with no word of why. So every worker runs
guarded: the user is told, in one message, that it's sagewiz's fault, that nothing was deleted,
and where the details are; the full traceback goes to a file beside the ledger, not the screen.
"""

from __future__ import annotations

import functools
import time
import traceback
from pathlib import Path

from textual import work

ERRORS_LOG = "errors.log"


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
    from rich.markup import escape

    from sagewiz.core.errors import WizardError

    if isinstance(error, WizardError):  # one a worker let through: it says what to do itself
        from sagewiz.tui.screens.common import error_text

        node.app.call_from_thread(node.app.notify, error_text(error), severity="error", timeout=30)
        return
    where = write_down(node, error)
    message = (f"[b]{escape(type(error).__name__)}:[/] {escape(str(error))}\n"
               "This is a fault in sagewiz, not in what you did. Nothing you made was deleted: go Back and try "
               "again, or quit (ctrl+q); the next sagewiz picks the run up.")
    if where is not None:
        message += f"\nThe details are in {escape(str(where))}: please attach it to a bug report."
    try:
        node.app.call_from_thread(node.app.notify, message, title="Something sagewiz did not expect",
                                  severity="error", timeout=60)
    except RuntimeError:  # the app is closing: the file has it
        pass


def write_down(node, error: BaseException) -> Path | None:
    """Append the error's traceback to the errors log beside the ledger; its path, or None if that can't be written."""
    from sagewiz.core.ledger import default_ledger_path

    path = default_ledger_path().parent / ERRORS_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} in {type(node).__name__}\n")
            log.write("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return path
