"""What the local endpoint's server bounds, so that no client can hold it hostage.

* **time per request phase** — the request's head and its body each get a total deadline
  (``head_timeout_s``, ``body_timeout_s``); a client that trickles a header line every few
  seconds is cut off when its phase's time is up, however often it sends. Between requests a
  kept-alive connection may sit idle longer (``idle_timeout_s``): it costs no work, and makes
  way for a new one.
* **connections** — at most ``max_connections``; when all are taken, the connection idle
  longest is closed for a newcomer, or the newcomer is refused with a JSON 503.
* **pixels decoded at once** — :class:`PixelBudget` is a semaphore weighted by each picture's
  width×height (read from its header before decoding), so concurrent big pictures take turns.

The server (:mod:`sagewiz.core.local.http_server`) keeps to them. :class:`ServerLimits` carries the
numbers from :func:`~sagewiz.core.local.endpoint.start_endpoint` to the server process as
command-line options. The standard library only: the wizard imports it.
"""

from __future__ import annotations

import argparse
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
