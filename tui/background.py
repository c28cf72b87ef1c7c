"""The screens' background work. core/ runs in a thread so the screen keeps drawing.

A WizardError is the screen's to show: each worker catches the ones it can meet and says what to
do. Anything else is a bug in sagewiz, and Textual, told not to exit on it, would drop it silently:
a list that never fills, a Next button never enabled, with no word of why. So every worker runs
guarded: the user is told, in one message, that it's sagewiz's fault, what to do,
and where the details are; the full traceback goes to a file beside the ledger, not the screen.
The commands (tui/cli.py) say a bug the same way, with ``fault_report`` (tui/words.py).

A worker that watches a job for minutes runs :func:`watching_in_background` instead: the job lives
in a process of its own (or on SageMaker), so the wizard may quit at any moment without waiting
for the watcher, and a watcher whose screen has gone stops without a word (:class:`ScreenGone`).
"""

from __future__ import annotations

import asyncio
import functools
import threading

from textual import work

from sagewiz.tui.words import UNEXPECTED, error_text, fault_report


class ScreenGone(Exception):
    """The screen a worker reports to is gone (the wizard quit, or went on): nobody is left to
    tell, so the worker ends there, quietly. What it watched goes on in its own process."""


def tell(node, callback, *args):
    """``callback(*args)`` on the app's thread, from a worker's, and its result. Raises ScreenGone
    when ``node``'s screen or the app has gone, instead of Textual's "no active app" errors."""
    try:
        app = node.app
    except RuntimeError:  # Textual's NoActiveAppError: the node is off every app
        raise ScreenGone from None
    if not node.is_attached or not app.is_running:
        raise ScreenGone
    try:
        return app.call_from_thread(callback, *args)
    except RuntimeError:
        if not node.is_attached or not app.is_running:  # it closed while the call waited
            raise ScreenGone from None
        raise


def _guarded(method):
    @functools.wraps(method)
    def guarded(node, *args, **kwargs):
        try:
            return method(node, *args, **kwargs)
        except ScreenGone:
            return None
        except Exception as error:  # noqa: BLE001 - the expected ones were caught inside; this is a bug
            say_unexpected(node, error)

    return guarded


def in_background(*, exclusive: bool = False, group: str = "default"):
    """``@work(thread=True)`` for a screen's or widget's method, with unexpected errors said (see above).
    ``exclusive`` cancels the same group's running worker when a new one starts."""
    def decorate(method):
        return work(thread=True, exclusive=exclusive, group=group, exit_on_error=False)(_guarded(method))

    return decorate


def watching_in_background(method):
    """Like ``in_background(exclusive=True)``, for a method that watches a job for minutes, in a
    thread the wizard's exit doesn't wait for. Textual's thread workers run in asyncio's default
    executor, which the app's exit joins: a worker blocked in ``follow_logs`` between two log
    lines held the shell prompt back for as long as the job took to write its next line, and
    then met the app gone. This one is a daemon thread that an async worker awaits: quitting (or
    leaving the screen) cancels that worker at once, and the thread, left behind, ends at its
    next word to the screen (ScreenGone) or with the process. Nothing is lost: the job isn't in
    it, and what the watcher saves (the ledger) is written in transactions."""
    guarded = _guarded(method)

    @functools.wraps(method)
    async def watch(node, *args, **kwargs):
        loop = asyncio.get_running_loop()
        ended = loop.create_future()

        def run() -> None:
            try:
                guarded(node, *args, **kwargs)
            finally:
                try:
                    loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))
                except RuntimeError:  # the loop is closed: the wizard is gone
                    pass

        threading.Thread(target=run, name=f"{type(node).__name__} watching", daemon=True).start()
        await ended

    return work(exclusive=True, exit_on_error=False)(watch)


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


def say_fatal(app, what: str, what_next: str) -> bool:
    """An app's ``_fatal_error``: a bug in a screen's own code ends the app with the error in a
    line, that it isn't the user's fault, ``what_next``, and where the traceback went (errors.log),
    instead of Textual's page of traceback. False when there is no error to say it with."""
    import sys

    from rich.text import Text

    error = sys.exc_info()[1] or app._exception
    if error is None:
        return False
    try:
        where = f"{what}'s {type(app.screen).__name__}"
    except Exception:  # noqa: BLE001 - no screen left to name
        where = what
    report = fault_report(error, where, what_next)
    app.bell()
    app.panic(Text.from_markup(f"[b red]{UNEXPECTED}:[/] {report}"))
    return True
