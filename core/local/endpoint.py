"""The local endpoint from the wizard's side: start the server process, talk to it, stop it.

:func:`start_endpoint` launches ``python -m sagewiz.core.local.serve`` in its own session (so
the wizard's Ctrl-C or exit doesn't take it down: deleting the endpoint does), waits for its
ready file and returns a :class:`LocalEndpoint`. A session that resumes after the wizard was
killed rebuilds one from the ledger's ``pid``, ``url`` and :class:`EndpointIdentity` with
``LocalEndpoint(url, pid, identity=...)``, after :func:`endpoint_alive` has said it is still there.
A pid is reused once its process ends, even by another sagewiz endpoint: nothing is signalled or
called alive before the process has proven, by its arguments and start time, that it is that
endpoint's server.

Only the standard library talks HTTP here; every failure comes out as a WizardError.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sagewiz.core.backend import Prediction
from sagewiz.core.errors import WizardError
from sagewiz.core.evaluate import ImageRejectedError
from sagewiz.core.local.limits import ServerLimits
from sagewiz.core.processes import arguments, command_line, process_exists, started_at, wait_gone

READY_FILE = "endpoint.json"
LOG_FILE = "endpoint.log"
START_TIMEOUT_S = 120.0  # importing torch and loading ResNet-152 on a busy laptop
STOP_GRACE_S = 10.0
REQUEST_TIMEOUT_S = 60.0
PING_TIMEOUT_S = 2.0
_SMALL_BODY = 64 * 1024  # any endpoint takes this much; above it, check the limit first
_SERVER_MODULE = "sagewiz.core.local.serve"
_LOG_PREFIX = "sagewiz endpoint"
_REDEPLOY_HINT = "Deploy the model again; `sagewiz resources` lists what is still running."


class EndpointError(WizardError):
    """The local endpoint can't be started, reached or stopped."""

    default_title = "Endpoint problem"


class EndpointNotRunningError(EndpointError):
    """The endpoint's process is gone or not answering."""

    default_title = "Endpoint not running"


@dataclass(frozen=True)
class EndpointIdentity:
    """What tells one endpoint's server apart from any other process, sagewiz endpoints included:
    the ready file it was started with (it lies in that endpoint's folder, under its sagewiz home),
    the model it serves, and when it started (None where unknown: then the arguments alone)."""

    ready_file: str
    model: str
    started: str | None = None

    @classmethod
    def of(cls, run_dir: str | os.PathLike, model_path: str | os.PathLike, started: str | None = None) -> EndpointIdentity:
        """The identity of the server :func:`start_endpoint` starts for ``model_path`` in ``run_dir``."""
        return cls(str((Path(run_dir) / READY_FILE).resolve()), str(Path(model_path).resolve()), started)


def start_endpoint(model_path: str | os.PathLike, run_dir: str | os.PathLike, *, port: int = 0,
                   max_batch: int = 16, max_body_mb: float = 6.0, batch_wait_ms: float | None = None,
                   device: str = "auto", timeout: float = START_TIMEOUT_S,
                   limits: ServerLimits | None = None) -> LocalEndpoint:
    """Serve ``model_path`` (a model.tar.gz) on 127.0.0.1 and wait until it answers.

    ``run_dir`` receives the ready file and the server's log (``endpoint.log``). ``port`` 0
    picks a free one. ``limits`` bounds the time a request may take to arrive, the
    connections and the pixels decoded at once (ServerLimits' defaults when None). Raises EndpointError with the server's own reason when it stops while
    starting (a missing or damaged model, a port in use) or isn't ready within ``timeout``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ready, log_path = run_dir / READY_FILE, run_dir / LOG_FILE
    ready.unlink(missing_ok=True)  # a stale one from an earlier server would look ready at once
    command = [sys.executable, "-m", _SERVER_MODULE, "--model", str(Path(model_path).resolve()),
               "--port", str(port), "--ready-file", str(ready.resolve()),
               "--max-batch", str(max_batch), "--max-body-mb", str(max_body_mb), "--device", device]
    if batch_wait_ms is not None:
        command += ["--batch-wait-ms", str(batch_wait_ms)]
    if limits is not None:
        command += limits.as_arguments()
    log_start = log_path.stat().st_size if log_path.exists() else 0
    try:
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=run_dir, start_new_session=True, close_fds=True)
    except OSError as error:
        raise EndpointError(f"Can't start the endpoint process ({error.strerror or error}).",
                            hint=f"Check that {sys.executable} still exists and {run_dir} is writable.") from None

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _read_ready_file(ready)
        if info is not None and info.get("pid") == process.pid:
            identity = EndpointIdentity.of(run_dir, model_path, started_at(process.pid))
            return LocalEndpoint(str(info["url"]), process.pid, max_body_bytes=info.get("max_body_bytes"),
                                 log_path=log_path, process=process, identity=identity)
        if process.poll() is not None:
            message, hint = _reason_from_log(log_path, log_start)
            raise EndpointError(f"The endpoint stopped while starting (exit code {process.returncode}): {message}",
                                title="Endpoint didn't start", hint=hint or f"The whole log is in {log_path}.")
        time.sleep(0.05)
    LocalEndpoint("http://127.0.0.1:0", process.pid, process=process).stop()
    raise EndpointError(f"The endpoint wasn't ready after {timeout:.0f} s, so it was stopped.",
                        title="Endpoint didn't start", hint=f"The computer may be very busy; try again. Its log is in {log_path}.")


def endpoint_alive(pid: int, url: str, identity: EndpointIdentity | None = None) -> bool:
    """Whether the endpoint recorded as ``pid`` at ``url`` is still serving: the process exists,
    is that endpoint's server (with ``identity``: by its arguments and start time) and the server
    at ``url`` says it is that process (a reused pid or port doesn't count)."""
    if not process_exists(pid):
        return False
    if identity is not None and not _is_endpoint_process(pid, url, identity):
        return False
    return _ping(url, PING_TIMEOUT_S) == pid


def is_server_of(pid: int, url: str, identity: EndpointIdentity) -> bool:
    """Whether ``pid`` still runs and is the server ``identity`` describes. Where its arguments can
    be read nothing is asked of the server, so a busy one still counts as running."""
    return process_exists(pid) and _is_endpoint_process(pid, url, identity)


class LocalEndpoint:
    """A running local endpoint: predict with it, check it, stop it. Safe to share between
    threads (each thread keeps its own connection)."""

    def __init__(self, url: str, pid: int, *, max_body_bytes: int | None = None, log_path: Path | None = None,
                 process: subprocess.Popen | None = None, request_timeout: float = REQUEST_TIMEOUT_S,
                 identity: EndpointIdentity | None = None):
        parts = urlsplit(url)
        self.identity = identity  # without one, stop() trusts any sagewiz endpoint server on this pid
        self.url, self.pid = url, pid
        self.max_body_bytes, self.log_path = max_body_bytes, log_path
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._process = process  # set when this process started it: lets stop() reap it
        self._timeout = request_timeout
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"LocalEndpoint(url={self.url!r}, pid={self.pid})"

    # ---- talking to it -------------------------------------------------------------------------
    def predict(self, image: bytes, content_type: str = "application/x-image") -> Prediction:
        """Class probabilities for one encoded image, in label order.

        Raises ImageRejectedError for an image the endpoint refuses (not an image, too big, a
        content type it doesn't take), EndpointNotRunningError when it is gone, and
        EndpointError for anything else."""
        if self.max_body_bytes is None and len(image) > _SMALL_BODY:
            # A server refuses a body over its limit without reading it, and the connection breaks
            # mid-upload; so learn the limit (once) before sending anything big.
            self.max_body_bytes = (_ping_info(self.url, PING_TIMEOUT_S) or {}).get("max_body_bytes")
        if self.max_body_bytes is not None and len(image) > self.max_body_bytes:
            raise ImageRejectedError(f"The image is {len(image):,} bytes; the endpoint takes at most {self.max_body_bytes:,}.",
                                     hint="Send a smaller image: resize or re-compress it first.")
        status, body = self._request("POST", "/invocations", image,
                                     {"Content-Type": content_type, "Accept": "application/json"})
        if status == 200:
            try:
                probabilities = json.loads(body)["prediction"]
                return Prediction(tuple(float(p) for p in probabilities))
            except (ValueError, KeyError, TypeError) as error:
                raise EndpointError(f"The endpoint's answer isn't a prediction ({error}): {body[:200]!r}",
                                    hint=_REDEPLOY_HINT) from None
        error, hint = _problem(body)
        if status in (400, 413, 415):
            raise ImageRejectedError(error, hint=hint)
        raise EndpointError(f"The endpoint answered {status}: {error}", hint=hint or _REDEPLOY_HINT)

    def ping(self) -> bool:
        """True when the endpoint answers ``GET /ping`` as this process."""
        return _ping(self.url, PING_TIMEOUT_S) == self.pid

    def stats(self) -> dict:
        """The server's counters (predictions, batches, largest_batch, errors). Raises EndpointError."""
        status, body = self._request("GET", "/stats", None, {})
        try:
            return json.loads(body) if status == 200 else {}
        except ValueError:
            return {}

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            # A kept-alive connection the server has since closed fails at once; retry on a new one.
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.read()
            except TimeoutError:
                connection.close()
                raise EndpointError(f"The endpoint at {self.url} didn't answer within {self._timeout:.0f} s.",
                                    hint="It may be overloaded: try again, or stop it and deploy the model again.") from None
            except (ConnectionError, http.client.HTTPException, OSError) as error:
                connection.close()
                if attempt == 2 or isinstance(error, ConnectionRefusedError):
                    raise self._unreachable(error) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _unreachable(self, error: Exception) -> EndpointError:
        if not process_exists(self.pid):
            return EndpointNotRunningError(f"The endpoint at {self.url} isn't running: its process ({self.pid}) has stopped.",
                                           hint=_REDEPLOY_HINT + self._log_hint())
        if _ping(self.url, PING_TIMEOUT_S) == self.pid:  # alive and answering: it was this request
            return EndpointError(f"The endpoint at {self.url} closed the connection during the request "
                                 f"({error.__class__.__name__}: {error}).",
                                 hint="Try again; if the image is large, send a smaller one." + self._log_hint())
        return EndpointNotRunningError(f"The endpoint at {self.url} isn't answering ({error.__class__.__name__}: {error}).",
                                       hint="Stop it and deploy the model again." + self._log_hint())

    def _log_hint(self) -> str:
        return f" Its log is in {self.log_path}." if self.log_path else ""

    # ---- stopping it ---------------------------------------------------------------------------
    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Stop the server: SIGTERM (it finishes the answers in progress), then SIGKILL after
        ``grace`` seconds. Stopping one that is already gone succeeds. Raises EndpointError
        when the process can't be signalled or won't go away."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        if self._process is not None:
            self._stop_child(self._process, grace)
            return
        if not process_exists(self.pid):
            return
        if not _is_endpoint_process(self.pid, self.url, self.identity):
            return  # the pid now belongs to another program (or another endpoint): ours is long gone
        try:
            os.kill(self.pid, signal.SIGTERM)
            if wait_gone(self.pid, grace):
                return
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except PermissionError:
            raise EndpointError(f"Not allowed to stop process {self.pid}.", hint="Stop it as the user who started it.") from None
        if not wait_gone(self.pid, grace):
            raise EndpointError(f"The endpoint's process {self.pid} didn't stop, even when killed.",
                                hint=f"Check it with `ps -p {self.pid}`.")

    def _stop_child(self, process: subprocess.Popen, grace: float) -> None:
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)


def server_in(run_dir: str | os.PathLike) -> LocalEndpoint | None:
    """The endpoint server that was started in ``run_dir`` and still runs, found by its ready file
    or, where that is missing or stale, among this computer's processes; None when there is none.
    Only a process that proves it by its arguments (sagewiz's server module, with this folder's
    ready file) counts, so a reused pid or another sagewiz home's endpoint is never taken for it.
    Its ``url`` is "" when the ready file no longer says it."""
    ready = str((Path(run_dir) / READY_FILE).resolve())
    info = _read_ready_file(Path(ready)) or {}
    recorded = info.get("pid") if isinstance(info.get("pid"), int) else None
    for pid in itertools.chain([recorded] if recorded else [], _all_pids()):
        args = arguments(pid)
        if args and _SERVER_MODULE in args and _option(args, "--ready-file") == ready and process_exists(pid):
            url = str(info.get("url") or "") if pid == recorded else ""
            identity = EndpointIdentity(ready, _option(args, "--model") or "", started_at(pid))
            return LocalEndpoint(url, pid, identity=identity, log_path=Path(run_dir) / LOG_FILE)
    return None


def servers_under(endpoints: str | os.PathLike) -> set[str]:
    """The names of the endpoints whose servers run from a folder in ``endpoints`` (a sagewiz home's
    ``endpoints/``), by their arguments, even where the folder itself is gone."""
    folder = Path(endpoints).resolve()
    names = set()
    for pid in _all_pids():
        args = arguments(pid)
        ready = _option(args, "--ready-file") if args and _SERVER_MODULE in args else None
        if ready and Path(ready).parent.parent == folder:
            names.add(Path(ready).parent.name)
    return names


def _all_pids() -> list[int]:
    """Every process id on this computer (none where there is no /proc to list them)."""
    try:
        return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    except OSError:
        return []


# ---- helpers -------------------------------------------------------------------------------------
def _read_ready_file(path: Path) -> dict | None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet (the server replaces it atomically)
        return None
    return info if isinstance(info, dict) else None


def _reason_from_log(log_path: Path, start: int) -> tuple[str, str | None]:
    """The server's own reason (its ``sagewiz endpoint:`` lines), else the log's last lines."""
    try:
        with open(log_path, "rb") as log:
            log.seek(start)
            lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    message = hint = None
    for line in lines:
        if line.startswith(f"{_LOG_PREFIX} hint: "):
            hint = line.removeprefix(f"{_LOG_PREFIX} hint: ")
        elif line.startswith(f"{_LOG_PREFIX}: "):
            message = line.removeprefix(f"{_LOG_PREFIX}: ")
    if message is None:
        message = " | ".join(lines[-5:]) if lines else "it wrote nothing to its log"
    return message, hint


def _ping_info(url: str, timeout: float) -> dict | None:
    """What the server at ``url`` says on ``GET /ping`` (pid, max_body_bytes), or None when
    nothing sagewiz-like answers."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        body = response.read()
        info = json.loads(body) if response.status == 200 else None
        return info if isinstance(info, dict) else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()


def _ping(url: str, timeout: float) -> int | None:
    """The pid the server at ``url`` reports, or None when nothing sagewiz-like answers."""
    pid = (_ping_info(url, timeout) or {}).get("pid")
    return pid if isinstance(pid, int) else None


def _problem(body: bytes) -> tuple[str, str | None]:
    """The server's ``{"error", "hint"}``, or the raw body when it isn't one."""
    try:
        data = json.loads(body)
        return str(data["error"]), data.get("hint")
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace") or "no reason given", None


def _is_endpoint_process(pid: int, url: str, identity: EndpointIdentity | None = None) -> bool:
    """Whether ``pid`` is a sagewiz endpoint server (with ``identity``: that endpoint's, started
    with its ready file and model, at the recorded time): its arguments say so, or (where they
    can't be read) the server at ``url`` answers as ``pid``."""
    if identity is not None and identity.started is not None and started_at(pid) not in (None, identity.started):
        return False  # a later process with the same pid
    args = arguments(pid)
    if args is None:
        command = command_line(pid)
        if command is None:
            return _ping(url, PING_TIMEOUT_S) == pid
        return _SERVER_MODULE in command and (identity is None or identity.ready_file in command)
    if _SERVER_MODULE not in args:
        return False
    return identity is None or (_option(args, "--ready-file") == identity.ready_file and _option(args, "--model") == identity.model)


def _option(args: list[str], name: str) -> str | None:
    """The value given after ``name`` in a command's arguments, or None."""
    try:
        return args[args.index(name) + 1]
    except (ValueError, IndexError):
        return None
