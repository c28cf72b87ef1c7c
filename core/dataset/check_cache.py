"""What checking each picture found, remembered between checks: a picture not changed since is
not opened again.

Checking decodes every picture in full and fingerprints its bytes; for 50,000 photos that is
minutes. A second check of the same folder (the wizard's, then ``sagewiz run``'s; or a check
stopped with Ctrl-C and run again) reads the answers from here instead. A picture is known by
its absolute path and what ``stat`` says of the file it leads to: size, modification and change time, inode. Writing
the file changes the first three, replacing it the inode, ``chmod`` the change time, so any of
them means "check it again"; a picture changed in the last seconds is checked again anyway,
since a rewrite within the times' resolution keeps them. Answers that depend on the moment rather than the file ("can't
read it", "the file is gone") are never kept. A different sagewiz, Pillow or pillow-heif may
judge pictures differently (a HEIC unreadable without pillow-heif), so the cache starts empty
whenever they change.

The cache is a help, never a condition: a damaged cache file is started afresh, and one that
can't be opened or written is left out while the check goes on opening every picture. It lives in the sagewiz home (``cache/``), beside the
ledger, and forgets pictures not seen for :data:`FORGET_AFTER_DAYS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

from sagewiz.core.dataset.images import ImageInfo

FILE_NAME = "checked-pictures.sqlite3"
FORGET_AFTER_DAYS = 90
# Answers are written in batches: one transaction per picture would cost more than a small JPEG's
# check; at most this many seconds of work are lost to a kill -9 (Ctrl-C loses nothing).
_WRITE_EVERY_S = 2.0
_WRITE_EVERY_N = 2000
# A picture changed this recently isn't remembered: a file rewritten within the timestamps'
# resolution (a jiffy on ext4, 2 s on the FAT of a camera's SD card) would keep the same size
# and times with other bytes (git's "racily clean" entries, solved the same way).
RECENT_NS = 2_000_000_000
# Problems that say something about the moment, not the file: checked again next time.
_OF_THE_MOMENT = ("can't read it", "the file is gone", "it is a folder")

StatKey = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def checker_version() -> str:
    """What the answers depend on besides the file: sagewiz, Pillow and pillow-heif."""
    import PIL

    from sagewiz.core.dataset import images

    try:
        from importlib.metadata import version

        sagewiz = version("sagewiz")
    except Exception:  # noqa: BLE001 - not installed as a distribution (a source checkout)
        sagewiz = "source"
    heif = getattr(images.pillow_heif, "__version__", "none") if images.pillow_heif else "none"
    return f"sagewiz {sagewiz}; Pillow {PIL.__version__}; pillow-heif {heif}; max {images.MAX_IMAGE_PIXELS}"


def default_cache_path() -> Path:
    """``cache/checked-pictures.sqlite3`` in the sagewiz home (``$SAGEWIZ_HOME`` or the user data folder)."""
    from sagewiz.core.ledger import default_ledger_path

    return default_ledger_path().parent / "cache" / FILE_NAME


def stat_key(path: str) -> StatKey | None:
    """The facts that change when the file does; None when it can't be stat'ed (checked as usual)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


class CheckCache:
    """Answers by picture, shared by the check's worker threads (one connection under a lock).

    ``lookup`` from any thread; ``keep`` from any thread, written in batches; ``close`` writes
    the rest. Every sqlite error turns the cache off for the rest of the check (``broken``
    says why) instead of stopping it.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self.hits = 0
        self.broken: str | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple] = []
        self._last_write = time.monotonic()
        self._today = dt.date.today().toordinal()
        self._db: sqlite3.Connection | None = None
        try:
            try:
                self._db = self._open()
            except sqlite3.DatabaseError:  # damaged (or not a database): only remembered answers are lost
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(f"{self.path}{suffix}")
                self._db = self._open()
        except (OSError, sqlite3.Error) as error:
            self._give_up(error)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # a check in the wizard and one in a terminal at once
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS pictures (path TEXT PRIMARY KEY, size INT, mtime INT, ctime INT, inode INT, "
                       "format TEXT, width INT, height INT, mode TEXT, problem TEXT, conversion TEXT, frames INT, digest TEXT, seen INT)")
            version = checker_version()
            row = db.execute("SELECT value FROM meta WHERE key = 'checker'").fetchone()
            if row is None or row[0] != version:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM pictures")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('checker', ?)", (version,))
                db.execute("COMMIT")
            db.execute("DELETE FROM pictures WHERE seen < ?", (self._today - FORGET_AFTER_DAYS,))
        except BaseException:
            db.close()
            raise
        return db

    def _give_up(self, error: Exception) -> None:
        self.broken = f"{self.path}: {error}"
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None

    def lookup(self, path: str, key: StatKey | None) -> tuple[ImageInfo, str | None] | None:
        """What checking ``path`` found last time, if it hasn't changed since (``key``)."""
        if key is None:
            return None
        with self._lock:
            if self._db is None:
                return None
            try:
                row = self._db.execute("SELECT size, mtime, ctime, inode, format, width, height, mode, problem, conversion, "
                                       "frames, digest, seen FROM pictures WHERE path = ?", (path,)).fetchone()
            except sqlite3.Error as error:
                self._give_up(error)
                return None
            if row is None or tuple(row[:4]) != key:
                return None
            self.hits += 1
            if row[12] != self._today:  # so that pictures still in use are not forgotten
                self._pending.append(("seen", path))
            # interned: 50,000 answers share a handful of format and mode strings, as Pillow's do
            fmt, mode = (sys.intern(row[4]) if row[4] else None), sys.intern(row[7] or "")
            return ImageInfo(fmt, row[5], row[6], mode, problem=row[8], conversion=row[9], frames=row[10]), row[11]

    def keep(self, path: str, key: StatKey | None, info: ImageInfo, digest: str | None) -> None:
        """Remember what checking ``path`` found (read before it was opened: ``key``)."""
        if key is None or (info.problem or "").startswith(_OF_THE_MOMENT) or time.time_ns() - max(key[1], key[2]) < RECENT_NS:
            return
        with self._lock:
            if self._db is None:
                return
            self._pending.append(("keep", (path, *key, info.format, info.width, info.height, info.mode, info.problem,
                                           info.conversion, info.frames, digest, self._today)))
            if len(self._pending) >= _WRITE_EVERY_N or time.monotonic() - self._last_write >= _WRITE_EVERY_S:
                self._write()

    def _write(self) -> None:
        pending, self._pending = self._pending, []
        self._last_write = time.monotonic()
        if not pending or self._db is None:
            return
        try:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO pictures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 [row for kind, row in pending if kind == "keep"])
            self._db.executemany("UPDATE pictures SET seen = ? WHERE path = ?",
                                 [(self._today, path) for kind, path in pending if kind == "seen"])
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            self._give_up(error)

    def close(self) -> None:
        """Write what is still pending and close (also after Ctrl-C: the work done is kept)."""
        with self._lock:
            self._write()
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None

    def __enter__(self) -> "CheckCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
