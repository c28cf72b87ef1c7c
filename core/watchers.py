"""Which wizard is watching which run. A wizard that walks a run (from its Train step on) leaves a
marker naming the run, ``watching/<its pid>`` in the sagewiz home. Another wizard then says the
run is being watched elsewhere instead of offering to resume it: two wizards on one run would
both follow its job and race to deploy its model. The marker goes when its wizard exits; one whose
process has ended without removing it (killed, crashed) is ignored, and removed by whoever finds it."""

from __future__ import annotations

import os
from pathlib import Path

from sagewiz.core.processes import command_line, process_exists


def _folder() -> Path:
    from sagewiz.core.ledger import default_ledger_path

    return default_ledger_path().parent / "watching"


def watch(run_id: str) -> None:
    """Record that this process is watching ``run_id`` (instead of any run it watched before).
    A home that can't be written is no reason to stop the wizard: then nothing is recorded."""
    folder = _folder()
    partial = folder / f"{os.getpid()}.partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.write_text(run_id)
        os.replace(partial, folder / str(os.getpid()))  # another wizard reads the old run or the new, never half
    except OSError:
        pass


def stop_watching() -> None:
    """This process watches no run any more (the wizard is closing). Raises nothing."""
    try:
        (_folder() / str(os.getpid())).unlink()
    except OSError:
        pass


def watcher_of(run_id: str) -> int | None:
    """The pid of another live sagewiz process watching ``run_id``, or None. Raises nothing."""
    try:
        markers = [m for m in _folder().iterdir() if m.name.isdigit() and int(m.name) != os.getpid()]
    except OSError:
        return None
    for marker in markers:
        pid = int(marker.name)
        if not _is_sagewiz(pid):  # ended without removing its marker; or its pid went to another program
            try:
                marker.unlink()
            except OSError:
                pass
            continue
        try:
            if marker.read_text() == run_id:
                return pid
        except OSError:
            continue
    return None


def _is_sagewiz(pid: int) -> bool:
    if not process_exists(pid):
        return False
    command = command_line(pid)
    return command is None or "sagewiz" in command  # None: nowhere to read it from, trust the pid
