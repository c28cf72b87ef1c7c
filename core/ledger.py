"""The resource ledger: a SQLite record of everything sagewiz creates, on both backends.

Every bucket, role, job, model, endpoint, process or folder is written down *before* it is
created (state ``planned``) and updated as it changes. A run killed at any moment (even
``kill -9``) therefore finds on resume what it already started instead of creating it twice,
and ``sagewiz resources`` / ``sagewiz cleanup`` can always show what is still billing.

Several processes write to the same file at once (the wizard, a training subprocess, an
endpoint server), so the file is in WAL mode, every write is one short ``BEGIN IMMEDIATE``
transaction and busy writers wait instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import platformdirs

from sagewiz.core.errors import WizardError
from sagewiz.core.processes import process_exists

__all__ = ["MIGRATIONS", "STATES", "Ledger", "LedgerError", "Resource", "Run", "default_ledger_path"]

BACKENDS = ("local", "aws")
STATES = ("planned", "creating", "active", "running", "completed", "failed", "stopped", "deleting", "deleted")
BILLING_STATES = ("active", "running")
# A process in one of these states is expected to be alive; one that finished may be gone.
LIVE_PROCESS_STATES = ("planned", "creating", "active", "running", "deleting")
BUSY_TIMEOUT_MS = 10_000

# Version N of the schema is MIGRATIONS[N-1]; `PRAGMA user_version` says how many have run.
# Append new steps, never edit old ones: users' ledgers were made by them.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,  -- uuid4 hex
        backend TEXT NOT NULL, step TEXT NOT NULL DEFAULT '', answers TEXT NOT NULL DEFAULT '{}',
        started_at TEXT NOT NULL, updated_at TEXT NOT NULL, finished_at TEXT
    );
    CREATE TABLE resources (
        id INTEGER PRIMARY KEY, run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
        -- region is '' (not NULL) for local: NULLs never collide in a UNIQUE key
        backend TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, region TEXT NOT NULL DEFAULT '',
        arn_or_url TEXT, state TEXT NOT NULL, cost_per_hour REAL, pid INTEGER,
        details TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        UNIQUE (backend, kind, region, name)
    );
    CREATE INDEX resources_by_run ON resources(run_id);
    CREATE INDEX resources_by_state ON resources(state);
    CREATE INDEX runs_by_finished ON runs(finished_at, started_at);
    """,
]


class LedgerError(WizardError):
    """The ledger file can't be opened, read or written, or a request to it makes no sense."""

    default_title = "Resource ledger problem"


@dataclass(frozen=True)
class Resource:
    """One thing sagewiz created (or is about to create), as the ledger last saw it."""

    id: int
    run_id: str | None
    backend: str
    kind: str
    name: str
    region: str
    arn_or_url: str | None
    state: str
    cost_per_hour: float | None
    pid: int | None
    details: dict[str, Any]
    created_at: str
    updated_at: str

    @property
    def is_live(self) -> bool:
        """True until the resource is deleted: clean-up still has to offer it."""
        return self.state != "deleted"


@dataclass(frozen=True)
class Run:
    """One pass through the wizard: which step it reached and the answers given so far."""

    id: str
    backend: str
    started_at: str
    updated_at: str
    step: str
    answers: dict[str, Any]
    finished_at: str | None


def default_ledger_path() -> Path:
    """Where the ledger lives: ``$SAGEWIZ_HOME/ledger.sqlite3`` when that variable is set, else the
    user data folder (``platformdirs.user_data_path("sagewiz")``). Raises nothing."""
    home = os.environ.get("SAGEWIZ_HOME")
    base = Path(home).expanduser() if home else platformdirs.user_data_path("sagewiz")
    return base / "ledger.sqlite3"


class Ledger:
    """The ledger file, opened by one process (one connection; threads share it under a lock).

    Use ``with Ledger.open() as ledger: ...``. Every method raises :class:`LedgerError`
    (never ``sqlite3`` errors) when the file can't be read or written.
    """

    def __init__(self, path: Path | str | None = None):
        """Open (creating or upgrading) the ledger at ``path`` or :func:`default_ledger_path`.
        Raises LedgerError when the file is corrupt, from a newer sagewiz, or can't be opened."""
        self.path = Path(path) if path is not None else default_ledger_path()
        self.started_afresh = False  # set when opened: True when this file had no ledger in it yet
        self._lock = threading.RLock()  # the TUI calls from thread workers
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"Can't create the folder for the resource ledger: {exc}",
                hint="Set SAGEWIZ_HOME to a folder you can write to.",
            ) from exc
        with self._translated():
            # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, path: Path | str | None = None) -> Ledger:
        """Open the ledger (see ``__init__``); usable as a context manager. Raises LedgerError."""
        return cls(path)

    def close(self) -> None:
        """Close the connection. Raises nothing."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _prepare(self) -> None:
        conn = self._conn
        conn.row_factory = sqlite3.Row
        with self._translated():
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Read the version before anything that writes (journal mode, migrations): a
            # corrupt file or one from a newer sagewiz must be left exactly as it is.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_if_newer(version)
            # No schema yet: the file is new (first use, or the old one was deleted or emptied).
            # What sagewiz made before is then only on disk or in AWS: say so where it is found.
            self.started_afresh = version == 0
            self._use_wal()
            # NORMAL is safe in WAL against a killed process (only power loss can drop the
            # last commits) and spares an fsync per write.
            conn.execute("PRAGMA synchronous = NORMAL")
            if version != len(MIGRATIONS):
                self._migrate()

    def _use_wal(self) -> None:
        # WAL is persistent, so this only matters for a brand-new file; but several processes
        # may create it at once, and SQLite does not wait (busy_timeout) for this switch.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:  # a filesystem without WAL support answers with the old mode: fine, carry on
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _refuse_if_newer(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise LedgerError(
                f"The resource ledger {self.path} was written by a newer sagewiz "
                f"(schema {version}; this one knows up to {len(MIGRATIONS)}).",
                hint="Upgrade sagewiz (pip install -U sagewiz); the ledger was not changed.",
            )

    def _migrate(self) -> None:
        # One transaction per step, and the version is re-read inside it: two processes
        # opening a fresh ledger at once must not both run the same step.
        while True:
            with self._write() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                self._refuse_if_newer(version)
                if version == len(MIGRATIONS):
                    return
                for statement in _statements(MIGRATIONS[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn sqlite3 errors into LedgerError with a hint a person can act on."""
        try:
            yield
        except sqlite3.IntegrityError as exc:
            raise LedgerError(f"The resource ledger refused a change: {exc}.") from exc
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            raise LedgerError(
                f"Can't use the resource ledger {self.path}: {exc}.",
                hint="Another sagewiz is busy with it; try again in a moment."
                if busy else "Check that the folder exists and you can write to it, or set SAGEWIZ_HOME.",
            ) from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database", "disk image is malformed"
            raise LedgerError(
                f"The resource ledger {self.path} is damaged ({exc}).",
                hint=f"Move {self.path} aside (rename it) and sagewiz starts a fresh ledger; keep the "
                "old file to check what it recorded. sagewiz never deletes it for you.",
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so a read-then-write (intend, merging
        # details) can't be interleaved by another process, and waiting uses busy_timeout.
        with self._lock, self._translated():
            self._conn.execute("BEGIN IMMEDIATE")
            with self._conn:  # commits, or rolls back on any exception
                yield self._conn

    def _read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock, self._translated():
            return self._conn.execute(sql, params).fetchall()

    def _resource_row(self, conn: sqlite3.Connection, resource_id: int) -> Resource | None:
        row = conn.execute("SELECT * FROM resources WHERE id = ?", (resource_id,)).fetchone()
        return _resource(row) if row else None

    def intend(
        self, backend: str, kind: str, name: str, *, region: str = "", run_id: str | None = None,
        details: dict[str, Any] | None = None, cost_per_hour: float | None = None,
    ) -> Resource:
        """Record that ``name`` is about to be created (state ``planned``); call it *before*
        creating. If it is already recorded and not deleted, return that record unchanged (a
        resumed run finds what it started); if it was deleted, revive it as planned.
        Raises LedgerError for an unknown backend, unknown ``run_id`` or non-JSON ``details``."""
        _check_backend(backend)
        if not kind or not name:
            raise LedgerError("A resource needs a kind and a name.")
        now, blob = _now(), _dumps(details or {})
        with self._write() as conn:
            key = (backend, kind, region, name)
            row = conn.execute(
                "SELECT id, state FROM resources WHERE backend=? AND kind=? AND region=? AND name=?", key
            ).fetchone()
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO resources (run_id, backend, kind, name, region, state, cost_per_hour,"
                    " details, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'planned', ?, ?, ?, ?)",
                    (run_id, backend, kind, name, region, cost_per_hour, blob, now, now),
                )
                resource_id = cursor.lastrowid
            else:
                resource_id = row["id"]
                if row["state"] == "deleted":  # created again: a new life, nothing kept from the old
                    conn.execute(
                        "UPDATE resources SET run_id=?, state='planned', arn_or_url=NULL, pid=NULL,"
                        " cost_per_hour=?, details=?, created_at=?, updated_at=? WHERE id=?",
                        (run_id, cost_per_hour, blob, now, now, resource_id),
                    )
            return self._resource_row(conn, resource_id)

    def update(
        self, resource_id: int, *, state: str | None = None, arn_or_url: str | None = None,
        pid: int | None = None, details: dict[str, Any] | None = None, cost_per_hour: float | None = None,
    ) -> Resource:
        """Change what is known about a resource; ``None`` leaves a field as it is and ``details``
        is merged (shallowly) into what is recorded. Raises LedgerError for an unknown id, an
        unknown state, non-JSON details, or leaving ``deleted`` (only :meth:`intend` revives)."""
        if state is not None and state not in STATES:
            raise LedgerError(f"Unknown resource state {state!r}; expected one of {', '.join(STATES)}.")
        with self._write() as conn:
            current = self._resource_row(conn, resource_id)
            if current is None:
                raise LedgerError(f"The ledger has no resource number {resource_id}.")
            if current.state == "deleted" and state not in (None, "deleted"):
                raise LedgerError(
                    f"The {current.kind.replace('-', ' ')} {current.name} was deleted meanwhile (by `sagewiz cleanup` "
                    f"or another sagewiz), so it can't become {state}.",
                    hint="Run that step again (e.g. `sagewiz run --resume`) to create it afresh; "
                    "`sagewiz resources` lists what is left.",
                )
            merged = _dumps({**current.details, **details}) if details else None
            conn.execute(
                "UPDATE resources SET state=coalesce(?, state), arn_or_url=coalesce(?, arn_or_url),"
                " pid=coalesce(?, pid), details=coalesce(?, details),"
                " cost_per_hour=coalesce(?, cost_per_hour), updated_at=? WHERE id=?",
                (state, arn_or_url, pid, merged, cost_per_hour, _now(), resource_id),
            )
            return self._resource_row(conn, resource_id)

    def begin_deleting(self, resource_id: int) -> bool:
        """Mark a resource ``deleting`` before the work of deleting it starts, so whoever watches it
        knows a stop that follows is a deletion; False (and nothing changed) when it is already
        deleted or unknown. Raises LedgerError if the file can't be written."""
        with self._write() as conn:
            done = conn.execute("UPDATE resources SET state='deleting', updated_at=? WHERE id=? AND state != 'deleted'",
                                (_now(), resource_id))
            return done.rowcount == 1

    def get(self, resource_id: int) -> Resource | None:
        """The resource with this id, or None. Raises LedgerError if the file can't be read."""
        rows = self._read("SELECT * FROM resources WHERE id = ?", (resource_id,))
        return _resource(rows[0]) if rows else None

    def find(self, backend: str, kind: str, name: str, region: str = "") -> Resource | None:
        """The resource with this key (deleted or not), or None. Raises LedgerError."""
        rows = self._read(
            "SELECT * FROM resources WHERE backend=? AND kind=? AND region=? AND name=?",
            (backend, kind, region, name),
        )
        return _resource(rows[0]) if rows else None

    def resources(
        self, *, backend: str | None = None, run_id: str | None = None, include_deleted: bool = False
    ) -> list[Resource]:
        """Recorded resources in the order they were first recorded, optionally only one backend's
        or one run's; deleted ones only with ``include_deleted``. Raises LedgerError."""
        sql, params = "SELECT * FROM resources WHERE 1=1", []
        if backend is not None:
            sql, params = sql + " AND backend = ?", [*params, backend]
        if run_id is not None:
            sql, params = sql + " AND run_id = ?", [*params, run_id]
        if not include_deleted:
            sql += " AND state != 'deleted'"
        return [_resource(row) for row in self._read(sql + " ORDER BY id", tuple(params))]

    def live_resources(self, *, backend: str | None = None) -> list[Resource]:
        """Everything not deleted yet: what clean-up offers. Raises LedgerError."""
        return self.resources(backend=backend)

    def running_cost_per_hour(self) -> float:
        """What the live resources that are running or active cost per hour together (those
        without a known price count as free). Raises LedgerError."""
        marks = ", ".join("?" * len(BILLING_STATES))
        rows = self._read(
            f"SELECT coalesce(sum(cost_per_hour), 0.0) FROM resources WHERE state IN ({marks})", BILLING_STATES
        )
        return float(rows[0][0])

    def stale_processes(self) -> list[Resource]:
        """Live resources with a pid, in a state where their process should still be running,
        whose process no longer exists: e.g. a training process that died. Raises LedgerError."""
        marks = ", ".join("?" * len(LIVE_PROCESS_STATES))
        rows = self._read(
            f"SELECT * FROM resources WHERE pid IS NOT NULL AND state IN ({marks}) ORDER BY id",
            LIVE_PROCESS_STATES,
        )
        return [r for r in map(_resource, rows) if not process_exists(r.pid)]

    def start_run(self, backend: str, answers: dict[str, Any]) -> Run:
        """Record a new pass through the wizard with the answers known so far.
        Raises LedgerError for an unknown backend or non-JSON answers."""
        _check_backend(backend)
        run_id, now, blob = uuid.uuid4().hex, _now(), _dumps(answers)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO runs (id, backend, started_at, updated_at, answers) VALUES (?, ?, ?, ?, ?)",
                (run_id, backend, now, now, blob),
            )
            return _run(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def save_progress(self, run_id: str, step: str, answers: dict[str, Any]) -> Run:
        """Remember the step reached and all answers so far (they replace the saved ones).
        Raises LedgerError for an unknown run or non-JSON answers."""
        return self._update_run(run_id, "step=?, answers=?, updated_at=?", (step, _dumps(answers), _now()))

    def finish_run(self, run_id: str) -> Run:
        """Mark a run finished: it is no longer offered for resume. Raises LedgerError for an unknown run."""
        now = _now()
        return self._update_run(run_id, "finished_at=coalesce(finished_at, ?), updated_at=?", (now, now))

    def _update_run(self, run_id: str, assignments: str, params: tuple) -> Run:
        with self._write() as conn:
            if conn.execute(f"UPDATE runs SET {assignments} WHERE id=?", (*params, run_id)).rowcount != 1:
                raise LedgerError(f"The ledger has no run {run_id!r}.")
            return _run(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def unfinished_runs(self) -> list[Run]:
        """Runs not finished (killed or abandoned), the most recently started first. Raises LedgerError."""
        # rowid breaks ties between runs started within the same second
        rows = self._read("SELECT * FROM runs WHERE finished_at IS NULL ORDER BY started_at DESC, rowid DESC")
        return [_run(row) for row in rows]

    def get_run(self, run_id: str) -> Run | None:
        """The run with this id, or None. Raises LedgerError if the file can't be read."""
        rows = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run(rows[0]) if rows else None


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise LedgerError(f"Unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}.")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _dumps(value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise LedgerError(
            f"Can't record these values in the ledger: {exc}.",
            hint="That is a fault in sagewiz, not in what you did: please report it with the command you ran. "
            "Nothing was recorded.",
        ) from exc


def _resource(row: sqlite3.Row) -> Resource:
    # by field name, so columns added by later migrations don't break older row types
    values = {f.name: row[f.name] for f in fields(Resource)}
    return Resource(**{**values, "details": json.loads(values["details"])})


def _run(row: sqlite3.Row) -> Run:
    values = {f.name: row[f.name] for f in fields(Run)}
    return Run(**{**values, "answers": json.loads(values["answers"])})


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into single statements (``execute`` runs one at a time, and
    ``executescript`` would commit on its own, breaking the one-transaction-per-step rule)."""
    pending = ""
    for chunk in script.split(";"):
        pending += chunk + ";"
        if sqlite3.complete_statement(pending):  # False while a ';' is inside a string or trigger
            if pending.strip(" \t\r\n;"):
                yield pending
            pending = ""
    if pending.strip(" \t\r\n;"):
        yield pending  # incomplete: let SQLite report the syntax error
