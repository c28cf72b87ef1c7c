"""One sagewiz at a time goes on with a run.

Two ``sagewiz run --resume`` of the same run at once would both find the run's resources in the
ledger and act on them: two endpoint servers for one endpoint (one of them recorded nowhere), one
run deleting what the other still uses. So whoever runs or resumes a run holds its lock file
(``runs/<run id>.lock`` beside the ledger) for as long as it works on it. The operating system
releases the lock when the process ends, however it ends (``kill -9`` included), so a killed run
never stays locked.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from sagewiz.core.errors import WizardError
from sagewiz.core.ledger import Ledger


class RunBusyError(WizardError):
    """Another sagewiz process is running or resuming this run right now."""

    default_title = "Run in use"


@contextmanager
def holding_run(ledger: Ledger, run_id: str) -> Iterator[None]:
    """Hold the run ``run_id`` of ``ledger`` while the block runs. Raises RunBusyError at once
    when another process holds it, and WizardError when the lock file can't be made."""
    folder = ledger.path.parent / "runs"
    path = folder / f"{run_id}.lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as error:
        raise WizardError(f"Can't create {path}: {error.strerror or error}.",
                          hint="Set SAGEWIZ_HOME to a folder you can write to.") from None
    # The file is never deleted: a process that opened it just before a deletion would lock a
    # file nobody else sees, and two sagewiz would go on with the run after all.
    with handle:
        if not _try_lock(handle):
            holder = path.read_text().strip()
            raise RunBusyError(f"Another sagewiz{f' (process {holder})' if holder.isdigit() else ''} is resuming "
                               f"run {run_id[:8]}, or still running it.",
                               hint="Let it finish, or stop it first (Ctrl-C where it runs); then resume the run again. "
                                    "`sagewiz resources` shows what it has made so far.")
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield  # closing the file releases the lock


def _try_lock(handle) -> bool:
    """Take the lock on the open file without waiting; whether it was free."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
