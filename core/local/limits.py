"""What the local endpoint's server bounds, so that no client can hold it hostage.

Each connection is a thread, and each picture being decoded is memory, so the server bounds:

* **time per request phase** — the request's head and its body each get a total deadline
  (:class:`DeadlineReader`); a client that trickles a header line every few seconds is cut
  off when its phase's time is up, however often it sends. Between requests a kept-alive
  connection may sit idle longer: it costs a thread but no work, and makes way for a new one.
* **connections** — :class:`ConnectionSlots` admits at most ``max_connections``; when all are
  taken, the connection idle longest is closed for a newcomer, or the newcomer is refused.
* **pixels decoded at once** — :class:`PixelBudget` is a semaphore weighted by each picture's
  width×height (read from its header before decoding), so concurrent big pictures take turns.

:class:`ServerLimits` carries the numbers from :func:`~sagewiz.core.local.endpoint.start_endpoint`
to the server process as command-line options. The standard library only: the wizard imports it.
"""

from __future__ import annotations

import argparse
import io
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, fields

REFUSING_AT_ONCE = 16  # refusals answered at once; beyond, a connection is closed without one
REFUSAL_LINGER_S = 1.0  # read what a refused client sends, so closing doesn't reset its connection
# A picture of this many pixels is the largest the endpoint decodes (core.dataset.images'
# MAX_IMAGE_PIXELS, the decompression-bomb guard): the default budget lets one through at a time.
DEFAULT_PIXEL_BUDGET = 50_000_000


@dataclass(frozen=True)
class ServerLimits:
    """The local endpoint's bounds on time, connections and memory (see the module docstring)."""

    head_timeout_s: float = 10.0  # the request line and headers, from their first byte
    body_timeout_s: float = 30.0  # the whole body: 6 MB take milliseconds on 127.0.0.1
    idle_timeout_s: float = 60.0  # a kept-alive connection waiting for its next request
    max_connections: int = 32  # evaluation uses 8; the benchmark 8 and one for /stats
    pixel_budget: int = DEFAULT_PIXEL_BUDGET  # pixels being decoded at once, by all requests

    def __post_init__(self) -> None:
        if min(self.head_timeout_s, self.body_timeout_s, self.idle_timeout_s) <= 0:
            raise ValueError("The endpoint's timeouts must be more than 0 seconds.")
        if self.max_connections < 1 or self.pixel_budget < 1:
            raise ValueError("The endpoint needs at least one connection and one pixel of budget.")

    def as_arguments(self) -> list[str]:
        """The server's command-line options that set these limits."""
        return [part for field in fields(self)
                for part in (f"--{field.name.replace('_', '-')}", str(getattr(self, field.name)))]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options :meth:`as_arguments` writes, defaulting to this class's values."""
        for field in fields(cls):
            parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default,
                                help=f"(default {field.default})")

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> ServerLimits:
        """The limits parsed by a parser :meth:`add_arguments` set up. Raises ValueError."""
        return cls(**{field.name: getattr(args, field.name) for field in fields(cls)})


class DeadlinePassed(Exception):
    """A request phase ("idle", "head" or "body") ran out of time."""

    def __init__(self, phase: str, seconds: float):
        super().__init__(f"the request's {phase} took longer than {seconds:g} s")
        self.phase, self.seconds = phase, seconds


class DeadlineReader(io.RawIOBase):
    """A connection's incoming bytes, each read bounded by what is left of the current phase's
    deadline (not a fresh timeout per read, which a trickling client resets with every byte).
    Wrap it in an ``io.BufferedReader``; sends use ``send_timeout`` as before."""

    def __init__(self, connection: socket.socket, send_timeout: float):
        super().__init__()
        self._connection, self._send_timeout = connection, send_timeout
        self.phase, self._seconds, self._deadline = "head", send_timeout, time.monotonic() + send_timeout

    def start(self, phase: str, seconds: float) -> None:
        """From now on, reads must be done within ``seconds``."""
        self.phase, self._seconds, self._deadline = phase, seconds, time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlinePassed(self.phase, self._seconds)
        self._connection.settimeout(remaining)
        try:
            return self._connection.recv_into(buffer)
        except TimeoutError:
            raise DeadlinePassed(self.phase, self._seconds) from None
        finally:
            self._connection.settimeout(self._send_timeout)


class ConnectionSlots:
    """At most ``limit`` connections at once. A connection counts from its admission until its
    release; between requests it is idle, and the one idle longest is closed to admit a
    newcomer when all slots are taken (its client reconnects, as after any keep-alive close)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._idle: dict[socket.socket, float] = {}  # connection → when it became idle
        self._refusing = threading.BoundedSemaphore(REFUSING_AT_ONCE)
        self.refused = 0

    def admit(self, connection: socket.socket) -> bool:
        """Take a slot for ``connection`` (closing an idle one if need be); False when all are busy."""
        evicted = None
        with self._lock:
            if len(self._open) >= self.limit:
                if not self._idle:
                    return False
                evicted = min(self._idle, key=self._idle.__getitem__)
                del self._idle[evicted]
                self._open.discard(evicted)
            self._open.add(connection)
        if evicted is not None:
            try:  # its thread, waiting for the next request, reads the end of the stream and ends
                evicted.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return True

    def idle(self, connection: socket.socket) -> None:
        """``connection`` waits for its next request: it may be closed to make room."""
        with self._lock:
            if connection in self._open:
                self._idle[connection] = time.monotonic()

    def busy(self, connection: socket.socket) -> bool:
        """A request began on ``connection``; False when it was closed to make room meanwhile."""
        with self._lock:
            self._idle.pop(connection, None)
            return connection in self._open

    def release(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle.pop(connection, None)
            self._open.discard(connection)

    def refuse(self, connection: socket.socket, answer: bytes) -> None:
        """Send ``answer`` to a connection :meth:`admit` had no slot for and close it, on a
        short-lived thread (the accepting thread must not wait on a client); a flood beyond
        REFUSING_AT_ONCE is closed without an answer."""
        with self._lock:
            self.refused += 1
        if not self._refusing.acquire(blocking=False):
            connection.close()
            return
        threading.Thread(target=self._send_refusal, args=(connection, answer), name="refusal", daemon=True).start()

    def _send_refusal(self, connection: socket.socket, answer: bytes) -> None:
        try:
            connection.settimeout(REFUSAL_LINGER_S)
            connection.sendall(answer)
            connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + REFUSAL_LINGER_S
            while time.monotonic() < deadline and connection.recv(65536):
                pass  # closing with its request unread would reset the connection before it reads the answer
        except OSError:
            pass  # it hung up or stayed silent: nothing more is owed
        finally:
            connection.close()
            self._refusing.release()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"connections": len(self._open), "idle_connections": len(self._idle),
                    "refused_connections": self.refused}


class PixelBudget:
    """A semaphore weighted by pixels: the pictures being decoded at once hold at most
    ``total`` pixels between them. Waiters are served in arrival order, so a big picture is
    not overtaken for ever by small ones."""

    def __init__(self, total: int):
        self.total = total
        self._free = total
        self._waiting: deque[object] = deque()
        self._changed = threading.Condition()

    def acquire(self, pixels: int, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for ``pixels`` (at most the whole budget, so one picture of
        any size gets through alone); the amount held, to :meth:`release`, or None on timeout."""
        pixels = min(pixels, self.total)
        turn = object()
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting.append(turn)
            try:
                while self._waiting[0] is not turn or self._free < pixels:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._changed.wait(remaining)
                self._free -= pixels
                return pixels
            finally:
                self._waiting.remove(turn)
                self._changed.notify_all()  # the next in line may now fit

    def release(self, pixels: int) -> None:
        with self._changed:
            self._free += pixels
            self._changed.notify_all()

    def in_use(self) -> int:
        with self._changed:
            return self.total - self._free
