"""Is that process still there, and what is it? For the processes sagewiz starts and records
(training engines, tuners, endpoints): the ledger, the local backend and the endpoint client all
ask these questions about pids that may have ended, been reaped, or been reused."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path


def _reap(pid: int) -> None:
    """Collect the exit status of a child of this process, so it doesn't linger as a zombie
    that still looks alive to ``kill(pid, 0)``."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass  # not our child: its parent (or init) reaps it


def reap_when_done(process: subprocess.Popen) -> None:
    """Wait for ``process`` in a thread of its own, so that when it ends its exit status is
    collected at once: a child nobody waits for stays ``<defunct>`` under this process (the
    wizard, for hours) until this process ends. The caller goes on at once; the thread is a
    daemon, so it never holds up this process's exit."""
    threading.Thread(target=process.wait, name=f"reap {process.pid}", daemon=True).start()


def process_exists(pid: int | None) -> bool:
    """Whether a process with this pid exists and has not ended (a reused pid counts)."""
    if not pid or pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would *terminate* it there; assume it's alive
        return True
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # an ended child of another process stays a zombie until that one reaps it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def wait_gone(pid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for the process to end; whether it did."""
    deadline = time.monotonic() + seconds
    while process_exists(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def command_line(pid: int) -> str | None:
    """The process's command line ("" when it is gone), or None where it can't be read."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return ""  # Linux, and the process is gone
    except OSError:
        return None
    try:  # macOS and other systems without /proc
        result = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else ""


def arguments(pid: int) -> list[str] | None:
    """The process's arguments one by one (``[]`` when it is gone), or None where they can't be
    read one by one (no /proc): then only :func:`command_line` can say what it runs."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return [] if Path("/proc/self").exists() else None
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def started_at(pid: int) -> str | None:
    """When the process started, as an opaque mark that is the same each time it is asked about
    one process and differs for a later process that got the same pid; None when it is gone or
    this system can't say. Recorded with a pid, it tells the process apart from a reused pid."""
    try:  # field 22 of stat: the start time in clock ticks since boot
        return "boot+" + Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None  # Linux, and the process is gone
    except (OSError, IndexError):
        return None
    try:  # macOS and other systems without /proc
        result = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None
