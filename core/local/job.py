"""A local training job's folder: the only thing the engine process and the wizard share.

``spec.json``      what to train (written by the backend before launch)
``status.json``    what the engine is doing (written atomically by the engine, read by anyone)
``training.log``   the algorithm's log lines, flushed line by line (``follow_logs`` tails it)
``engine.err``     the engine's stderr: full tracebacks, never shown to the user as such
``stop``           present once a stop was asked for (the engine also gets SIGTERM)
``checkpoints/``   the epochs kept; ``output/model.tar.gz`` the artifact

Status and secondary status use SageMaker's names (InProgress/Completed/Failed/Stopping/Stopped;
Starting → Downloading → Training → Uploading → Completed/Stopped/Failed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sagewiz.core.backend import JobStatus
from sagewiz.core.processes import command_line, process_exists, reap_when_done

SPEC, STATUS, LOG, ERRORS, STOP = "spec.json", "status.json", "training.log", "engine.err", "stop"
_ENGINE = "sagewiz.core.local.train"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(data, indent=1))
    os.replace(partial, path)  # a reader sees the old file or the new one, never half of one


def _read_json(path: Path) -> dict[str, Any] | None:
    for _ in range(3):  # os.replace makes a torn read impossible on POSIX; a missing file is not
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            time.sleep(0.01)
    return None


def write_spec(folder: Path, spec: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / SPEC, spec)


def read_spec(folder: Path) -> dict[str, Any]:
    spec = _read_json(folder / SPEC)
    if spec is None:
        raise FileNotFoundError(f"no {SPEC} in {folder}")
    return spec


def read_spec_or_none(folder: Path) -> dict[str, Any] | None:
    return _read_json(folder / SPEC)


def read_status(folder: Path) -> dict[str, Any] | None:
    """The engine's last status, or None before it wrote one. Never raises on a race."""
    return _read_json(folder / STATUS)


def write_status(folder: Path, status: dict[str, Any]) -> None:
    _write_json(folder / STATUS, status)


def log_path(folder: Path) -> Path:
    return folder / LOG


def launch(folder: Path) -> subprocess.Popen:
    """Start the engine on ``folder`` in its own session (the wizard's Ctrl-C or exit doesn't
    reach it) and record its pid in the status before returning. When the engine ends while this
process still runs, it is reaped at once (no ``<defunct>`` engine under the wizard). Raises OSError."""
    with open(folder / ERRORS, "ab") as errors:
        process = subprocess.Popen([sys.executable, "-m", _ENGINE, str(folder)], stdin=subprocess.DEVNULL, stdout=errors,
                                   stderr=subprocess.STDOUT, cwd=folder, start_new_session=True, close_fds=True)
    reap_when_done(process)  # the engine outlives this call: whoever started it collects its end
    now = time.time()
    if read_status(folder) is None:  # the engine may already have written its own
        write_status(folder, {"status": "InProgress", "secondary_status": "Starting", "pid": process.pid,
                              "started_at": now, "history": [{"status": "Starting", "started_at": now,
                                                              "message": "Launching the training engine"}],
                              "metrics": []})
    return process


def _is_engine(pid: int, folder: Path) -> bool:
    # a pid can be reused after the engine died: check it still runs the engine on this folder
    command = command_line(pid)
    if command is None:
        return process_exists(pid)  # nowhere to read it from: trust the pid
    if command == "":
        # gone, or still inside exec: Popen returns (the kernel wakes a vfork parent) before the
        # new program's arguments can be read, so right after launch the line is empty for a moment.
        # process_exists tells the two apart (and counts a zombie as gone)
        return process_exists(pid)
    if _ENGINE in command and str(folder) in command:
        return True
    # just launched by this process and not yet exec'd: between fork and exec the child still
    # shows its parent's command line (under load that window is long enough to be seen)
    return command == command_line(os.getpid())


def is_running(folder: Path) -> bool:
    status = read_status(folder) or {}
    pid = status.get("pid")
    return bool(pid) and process_exists(pid) and _is_engine(pid, folder)


def request_stop(folder: Path) -> None:
    """Ask the engine to stop after the current batch: a ``stop`` file, and SIGTERM."""
    (folder / STOP).touch()
    status = read_status(folder) or {}
    pid = status.get("pid")
    if pid and is_running(folder):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def stop_requested(folder: Path) -> bool:
    return (folder / STOP).exists()


def mark_failed(folder: Path, reason: str) -> None:
    """Record the end of an engine that died without writing it (killed, out of memory). An end
    the engine did write stands: it may have come between the caller's look at the status and
    its look at the process."""
    status = read_status(folder) or {}
    if JobStatus(status.get("status", JobStatus.IN_PROGRESS.value)).finished:
        return
    now = time.time()
    history = list(status.get("history", [])) + [{"status": "Failed", "started_at": now, "message": reason}]
    write_status(folder, {**status, "status": "Failed", "secondary_status": "Failed", "failure_reason": reason,
                          "ended_at": now, "history": history})
