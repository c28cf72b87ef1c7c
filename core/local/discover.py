"""What the local backend left under the sagewiz home that the ledger doesn't know.

The ledger records everything before it is created, so a folder without a record means the
ledger was lost (deleted, emptied, replaced). The aws backend finds such leftovers by their tag;
here they are the folders under the home (``jobs/``, ``tuning/``, ``endpoints/``, ``storage/``)
and the endpoint servers still running from them. :func:`record_what_is_on_disk` puts them back
into the ledger, marked ``discovered``, so that ``sagewiz resources`` lists them and ``sagewiz
cleanup`` deletes them like anything else.
"""

from __future__ import annotations

from pathlib import Path

from sagewiz.core.ledger import Resource

FOLDERS = (("training-job", "jobs"), ("tuning-job", "tuning"), ("endpoint", "endpoints"))


def record_what_is_on_disk(backend) -> list[Resource]:
    """Record every job, tuning job and endpoint folder under ``backend.home`` (and the storage
    folder), and every endpoint server still running from a folder there (even one deleted since),
    that the ledger has no live record of, with the state it is in: a running engine or tuner as
    running, an endpoint whose own server still runs as active (with that server's pid and
    address), the rest as they ended. Returns the records made. Raises LedgerError."""
    from sagewiz.core.local.endpoint import servers_under

    found = []
    for kind, parent in FOLDERS:
        folder = backend.home / parent
        names = {entry.name for entry in folder.iterdir() if entry.is_dir()} if folder.is_dir() else set()
        if kind == "endpoint":  # a server still running from a folder that was deleted counts too
            names |= servers_under(folder)
        for name in sorted(names):
            known = backend.ledger.find(backend.name, kind, name)
            if known is None or known.state == "deleted":
                found.append(_record(backend, kind, folder / name))
    storage = backend.home / "storage"
    known = backend.ledger.find(backend.name, "storage", "storage")
    if storage.is_dir() and (known is None or known.state == "deleted"):
        record = backend.ledger.intend(backend.name, "storage", "storage", details={"path": str(storage), "discovered": True})
        found.append(backend.ledger.update(record.id, state="active", arn_or_url=storage.resolve().as_uri()))
    return found


def _record(backend, kind: str, folder: Path) -> Resource:
    ledger = backend.ledger
    if kind == "endpoint":
        return _record_endpoint(backend, folder)
    where = {"job_dir" if kind == "training-job" else "dir": str(folder)}  # as the backend records each kind
    record = ledger.intend(backend.name, kind, folder.name, details={**where, "discovered": True}, cost_per_hour=0.0)
    # running: the backend's refresh then asks the job itself what it is doing (or how it ended)
    return ledger.update(record.id, state="running", arn_or_url=folder.resolve().as_uri())


def _record_endpoint(backend, folder: Path) -> Resource:
    from sagewiz.core.local.endpoint import server_in

    server = server_in(folder)
    details = {"discovered": True}
    if server is not None and server.identity.model:
        details.update(model=Path(server.identity.model).as_uri(), model_path=server.identity.model,
                       started=server.identity.started)
    record = backend.ledger.intend(backend.name, "endpoint", folder.name, details=details, cost_per_hour=0.0)
    if server is None:  # only the folder is left
        return backend.ledger.update(record.id, state="stopped")
    return backend.ledger.update(record.id, state="active", pid=server.pid, arn_or_url=server.url or None)
