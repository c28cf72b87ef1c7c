"""A full disk, said as what it is: which disk, how much the step needs and has free, what to do.

Packing the pictures and copying them into storage write gigabytes; a disk that fills up
(ENOSPC), or a quota that is used up (EDQUOT), is a fact about this computer, not a fault in
sagewiz, and what was written so far is removed by the step that failed, so running it again
once there is room carries on.
"""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sagewiz.core.errors import WizardError

FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(WizardError):
    """A step could not write because its disk is full or the user's disk quota is used up."""

    default_title = "The disk is full"


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says that a disk has no room left (or the quota on it is used up)."""
    return isinstance(error, OSError) and error.errno in FULL


def disk_full_error(error: OSError, folder: str | os.PathLike, what: str, needed: int | None = None) -> DiskFullError:
    """The DiskFullError for ``error``, met while ``what`` (e.g. "pack the pictures") wrote into
    ``folder``: the disk it is on, ``needed`` bytes (when known) against what is free there now."""
    where = _existing(Path(folder))
    disk = _mount_point(where)
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        free = None
    quota = error.errno == errno.EDQUOT
    said = f"your disk quota on the disk at {disk} is used up" if quota else f"the disk at {disk} is full"
    amounts = []
    if needed is not None:
        amounts.append(f"needs about {size_text(needed)}")
    if free is not None:
        amounts.append(f"{size_text(free)} {'is' if amounts else 'are'} free there")
    message = f"sagewiz could not {what} in {folder}: {said}" + (f" (this step {' and '.join(amounts)})" if amounts else "") + "."
    hint = ("Free some space on that disk (`sagewiz cleanup` deletes the packed copies and jobs sagewiz keeps), or set "
            "SAGEWIZ_HOME to a folder on a disk with more room; then run the same command again "
            "(`sagewiz run --resume` continues an interrupted run).")
    return DiskFullError(message, hint=hint)


@contextmanager
def room_needed(folder: str | os.PathLike, what: str, needed: Callable[[], int] | int | None = None) -> Iterator[None]:
    """Around writing into ``folder``: a full disk (or quota) becomes a DiskFullError that says so.
    ``needed`` is the bytes the step needs, or a function that works it out (only called when the
    disk is full, so a step that succeeds pays nothing for it)."""
    try:
        yield
    except OSError as error:
        if not is_disk_full(error):
            raise
        try:
            wanted = needed() if callable(needed) else needed
        except OSError:
            wanted = None
        raise disk_full_error(error, folder, what, wanted) from error


def size_text(n: int) -> str:
    """``1536`` → ``"1.5 kB"``, ``734003200`` → ``"734.0 MB"``: sizes as a person reads them."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000


def _existing(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _mount_point(path: Path) -> Path:
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path
