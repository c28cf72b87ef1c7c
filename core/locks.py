"""Locks that keep two sagewiz processes from doing one thing twice at the same moment.

Two ``sagewiz run --resume`` of the same run at once would both find the run's resources in the
ledger and act on them: two endpoint servers for one endpoint (one of them recorded nowhere), one
run deleting what the other still uses. So whoever runs or resumes a run holds its lock file
(``locks/run-<run id>.lock`` beside the ledger) for as long as it works on it, and whoever starts a
local endpoint holds that endpoint's lock while it looks for a running server and starts one.
The operating system releases a lock when its process ends, however it ends (``kill -9``
included), so nothing killed stays locked.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sagewiz.core.errors import WizardError


class RunBusyError(WizardError):
    """Another sagewiz process is running or resuming this run right now."""

    default_title = "Run in use"


class _Busy(Exception):
    """The lock is held by another process (its pid, when it wrote one)."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


def _run_lock(home: Path, run_id: str) -> Path:
    return home / "locks" / f"run-{run_id}.lock"


@contextmanager
def holding_run(home: Path, run_id: str) -> Iterator[None]:
    """Hold the run ``run_id`` of the ledger in ``home`` while the block runs. Raises RunBusyError
    at once when another process holds it, and WizardError when the lock file can't be made."""
    try:
        with exclusive(_run_lock(home, run_id), wait=False):
            yield
    except _Busy as busy:
        raise RunBusyError(f"Another sagewiz{f' (process {busy.holder})' if busy.holder.isdigit() else ''} is resuming "
                           f"run {run_id[:8]}, or still running it.",
                           hint="Let it finish, or stop it first (Ctrl-C where it runs); then resume the run again. "
                                "`sagewiz resources` shows what it has made so far.") from None


def run_holder(home: Path, run_id: str) -> int | None:
    """The process id of another process holding the run ``run_id`` of the ledger in ``home``
    right now (a ``sagewiz run``, or a wizard walking it), or None. Raises nothing."""
    try:
        with exclusive(_run_lock(home, run_id), wait=False, create=False):
            return None  # nobody held it: taken and let go at once
    except _Busy as busy:
        holder = int(busy.holder) if busy.holder.isdigit() else -1
        return None if holder == os.getpid() else holder
    except (OSError, WizardError):  # no such lock: nobody ever held this run
        return None


@contextmanager
def exclusive(path: Path, *, wait: bool, create: bool = True) -> Iterator[None]:
    """Hold the lock file ``path`` while the block runs: waiting for another holder to let go,
    or (``wait=False``) raising ``_Busy`` at once. Raises WizardError when it can't be made
    (``create=False``: OSError when it doesn't exist)."""
    if not create:
        handle = open(path, "r+")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+")
        except OSError as error:
            raise WizardError(f"Can't create {path}: {error.strerror or error}.",
                              hint="Set SAGEWIZ_HOME to a folder you can write to.") from None
    # The file is never deleted: a process that opened it just before a deletion would lock a
    # file nobody else sees, and two sagewiz would go ahead after all.
    with handle:
        if not _lock(handle, wait):
            handle.seek(0)
            raise _Busy(handle.read().strip())
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield  # closing the file releases the lock


def _lock(handle, wait: bool) -> bool:
    """Take the lock on the open file (waiting, or not); whether it was taken."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
