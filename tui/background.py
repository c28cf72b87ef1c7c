"""The screens' background work. core/ runs in a thread so the screen keeps drawing.

A WizardError is the screen's to show: each worker catches the ones it can meet and says what to
do. Anything else is a bug in sagewiz, and Textual, told not to exit on it, would drop it silently:
a list that never fills, a Next button never enabled, with no word of why. So every worker runs
guarded: the user is told, in one message, that it's sagewiz's fault, what to do,
and where the details are; the full traceback goes to a file beside the ledger, not the screen.
The commands (tui/cli.py) say a bug the same way, with ``fault_report`` (tui/words.py).
"""

from __future__ import annotations

import functools

from textual import work

from sagewiz.tui.words import UNEXPECTED, error_text, fault_report


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
        message, title, timeout = error_text(error), "", 30
    else:
        message = fault_report(error, f"the wizard's {type(node).__name__}",
                               "Go Back and try again, or quit (ctrl+q): the next sagewiz offers to pick the run up.")
        title, timeout = UNEXPECTED, 60
    try:
        node.app.call_from_thread(node.app.notify, message, title=title, severity="error", timeout=timeout)
    except RuntimeError:  # the app is closing: the log has a bug's details
        pass
