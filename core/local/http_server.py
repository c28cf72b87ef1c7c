"""The local endpoint's HTTP server: every connection on one asyncio event loop, parsed by httptools.

Why not a thread per connection (``http.server``, as before): at 28 px a picture's decoding and
forward pass take about half a millisecond, and the threaded server cost as much again: each
request crossed three threads (its handler, the model's, its handler again), handed the GIL to
and fro, and ran http.server's header parsing in Python. Over HTTP, ResNet-20 answered half as
many pictures a second as the same steps in-process (docs/benchmarks.md). Here one thread reads
and answers every connection, llhttp (through httptools) parses, and a picture crosses to a
decoding thread and to the model's thread once each.

The path of a prediction: the loop reads the request and checks its head
(:mod:`sagewiz.core.local.protocol`) before the body arrives, a decoding thread preprocesses the
body within the pixel budget (Pillow releases the GIL, so big pictures decode beside the model)
and queues it for the model's thread (:class:`~sagewiz.core.local.batching.Batcher`), whose
answer comes back to the loop to be written. Answers on a connection go out in the order its
requests came.

What no client can do (:class:`~sagewiz.core.local.limits.ServerLimits`): take longer than its
phase's deadline to send a request's head or body (a trickling client is cut off however often
it sends), keep more than ``max_connections`` open (the connection idle longest makes way, or the
newcomer gets a JSON 503), or send a head over 1 MiB. Every answer is JSON, the parser's
refusals included.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

import httptools

from sagewiz.core.local import protocol
from sagewiz.core.local.batching import Batcher, Stats
from sagewiz.core.local.limits import REFUSAL_LINGER_S, REFUSING_AT_ONCE, ServerLimits
from sagewiz.core.local.pictures import RequestProblem

HOST = "127.0.0.1"
LOG_PREFIX = "sagewiz endpoint"
PREDICT_TIMEOUT_S = 120.0  # an answer later than this is a 500: the model's thread is stuck
MAX_HEAD_BYTES = 1 << 20  # a head still unfinished after this many bytes is refused (431)


class _Stop(Exception):
    """Raised from a parser callback to stop reading a connection that is being refused."""


class _Request:
    """One request as it is read and answered."""

    __slots__ = ("method", "path", "headers", "body", "media", "keep_alive", "arriving", "in_flight", "done", "timer")

    def __init__(self) -> None:
        self.method = self.path = self.media = ""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.keep_alive = True
        self.arriving = False  # an invocation counted in stats.incoming until it is queued for the model
        self.in_flight = False  # an invocation counted in the server's in_flight until it is answered
        self.done = False  # answered (a late answer from the model is dropped)
        self.timer: asyncio.TimerHandle | None = None


class _Refusal:
    """A queued refusal: answered in turn, then the connection closes."""

    __slots__ = ("problem",)

    def __init__(self, problem: RequestProblem) -> None:
        self.problem = problem


class Connection(asyncio.Protocol):
    """One client's connection: read requests, answer them in order, keep to the deadlines."""

    def __init__(self, server: EndpointServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.reading: _Request | None = None  # the request whose bytes are arriving
        self.queued: deque[_Request | _Refusal] = deque()  # read, waiting for those before to be answered
        self.answering: _Request | None = None  # waiting for the model
        self.closing = False  # refused: nothing more is read, and it closes once answered
        self.refused = False  # turned away at the door (over the connection cap)
        self.timer: asyncio.TimerHandle | None = None
        self.phase = "head"
        self.url_bytes = self.head_bytes = self.chunk_bytes = 0
        self.request_start = b""  # a request's first bytes, to name an unknown method
        self.paused = False
        self.eof = False  # the client has sent all it will send

    # ---- the connection ---------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        if not self.server.admit(self):
            self.refused = True
            self.server.refuse(transport)
            return
        self._deadline("head", self.server.limits.head_timeout_s)  # a new client sends at once

    def connection_lost(self, error) -> None:
        self._cancel_timer()
        if self.refused:
            return
        in_progress = self.reading is not None or self.answering is not None or any(
            isinstance(item, _Request) for item in self.queued)
        if in_progress or isinstance(error, ConnectionError):
            self.server.hung_up += 1
        for request in (self.reading, self.answering, *self.queued):
            if isinstance(request, _Request):
                self._forget(request)
        self.reading = self.answering = None
        self.queued.clear()
        self.server.release(self)

    def data_received(self, data: bytes) -> None:
        if self.closing or self.refused:
            return  # refused: what else it sends is read and dropped, so closing doesn't reset it
        self.chunk_bytes = len(data)
        if self.reading is None:
            self.request_start = data[:256]  # where the next request begins (unless pipelined)
        elif self.phase == "head":
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if not isinstance(error.__context__, _Stop):  # a bug here, not the client's doing
                print(f"{LOG_PREFIX}: a request failed: {''.join(traceback.format_exception(error.__context__ or error))}",
                      file=sys.stderr, flush=True)
                self._refuse(RequestProblem(500, "The endpoint failed to read this request.",
                                            "Look at the endpoint's log; send the request again."))
        except httptools.HttpParserUpgrade:
            self._refuse(RequestProblem(501, "The endpoint doesn't switch protocols (the request has Upgrade).",
                                        protocol.HTTP_HINT))
        except httptools.HttpParserError as error:
            self._refuse(protocol.unreadable(self.request_start, str(error) or type(error).__name__))
        else:
            if self.phase == "head" and self.reading is not None and self.head_bytes > MAX_HEAD_BYTES:
                self._refuse(protocol.head_too_large(f"more than {MAX_HEAD_BYTES:,} bytes"))
        if self.queued and not self.paused and not self.closing:
            self.transport.pause_reading()  # a client sending ahead of its answers waits, not the memory
            self.paused = True

    def eof_received(self) -> bool:
        self.eof = True
        return self.answering is not None or bool(self.queued)  # half-closed: still answer what was asked

    # ---- the parser's callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.reading = _Request()
        self.url_bytes, self.head_bytes = 0, self.chunk_bytes
        if self.phase != "head":  # from its first byte (a new connection's runs from its start)
            self.server.busy(self)
            self._deadline("head", self.server.limits.head_timeout_s)

    def on_url(self, url: bytes) -> None:
        self.url_bytes += len(url)
        if self.url_bytes > protocol.MAX_LINE_BYTES:
            self._stop(protocol.url_too_long())
        self.reading.path += url.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.reading.headers
        if len(headers) >= protocol.MAX_HEADERS:
            self._stop(protocol.head_too_large(f"more than {protocol.MAX_HEADERS} headers"))
        if len(name) + len(value) > protocol.MAX_LINE_BYTES:
            self._stop(protocol.head_too_large(f"a header line over {protocol.MAX_LINE_BYTES:,} bytes"))
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1").strip())

    def on_headers_complete(self) -> None:
        request, server = self.reading, self.server
        request.method = self.parser.get_method().decode("latin-1")
        request.keep_alive = self.parser.should_keep_alive()
        try:
            request.path = protocol.check_route(request.method, urlsplit(request.path).path, request.headers)
            if request.path == "/invocations":
                _, request.media = protocol.check_invocation(request.headers, server.max_body_bytes)
        except RequestProblem as problem:
            self._stop(problem)
        if request.path == "/invocations":
            request.in_flight, request.arriving = True, True
            server.in_flight += 1
            with server.stats.lock:
                server.stats.incoming += 1  # the batcher waits for pictures still arriving
            if request.headers.get("expect", "").lower() == "100-continue" and not self._behind():
                self.transport.write(protocol.CONTINUE)  # curl asks first for bodies over 1 KB
        self._deadline("body", server.limits.body_timeout_s)

    def on_body(self, body: bytes) -> None:
        if self.reading.path == "/invocations":
            self.reading.body.append(body)

    def on_message_complete(self) -> None:
        request, self.reading = self.reading, None
        self._cancel_timer()
        self.phase = "answer"
        self.queued.append(request)
        self._answer_next()

    # ---- answering --------------------------------------------------------------------------
    def _answer_next(self) -> None:
        """Answer what was read, in order, until one has to wait for the model."""
        while self.answering is None and self.queued:
            item = self.queued.popleft()
            if isinstance(item, _Refusal):
                self._write(self._problem(item.problem, close=True))
                self._close_after_answer()
                return
            if item.path == "/invocations":
                self.answering = item
                item.timer = self.server.loop.call_later(PREDICT_TIMEOUT_S, self._timed_out, item)
                self.server.predict(self, item)
                return
            if item.path == "/ping":
                payload = {"status": "ok", "pid": os.getpid(), "max_body_bytes": self.server.max_body_bytes}
            else:
                payload = {**self.server.stats.as_dict(), **self.server.counts()}
            self._write(protocol.answer(200, json.dumps(payload).encode(), close=not item.keep_alive))
            if not item.keep_alive:
                self._close_after_answer()
                return
        if self.answering is None and not self.queued and not self.closing and self.transport is not None:
            if self.paused:
                self.paused = False
                self.transport.resume_reading()
            if self.eof:
                self.transport.close()  # it said all it had to say, and has its answers
            elif self.reading is None:  # nothing half-read: wait for the next request
                self.phase = "idle"
                self.server.idle(self)
                self._deadline("idle", self.server.limits.idle_timeout_s)

    def answered(self, request: _Request, future: Future) -> None:
        """The model's answer for ``request`` (on the loop, from the model's thread)."""
        if request.done:
            return
        error = future.exception()
        if error is None:
            body = protocol.prediction_body(future.result(), request.media)
            self._finish(request, protocol.answer(200, body, request.media, close=not request.keep_alive))
        else:
            print(f"{LOG_PREFIX}: the model failed on a batch: {error}", file=sys.stderr, flush=True)
            self._finish(request, self._problem(protocol.model_failed(error), close=not request.keep_alive))

    def refused_picture(self, request: _Request, problem: RequestProblem) -> None:
        """The picture can't be decoded (400) or waited too long for the pixel budget (503): its
        whole body was read, so the connection stays open."""
        if not request.done:
            self._finish(request, self._problem(problem, close=not request.keep_alive))

    def _timed_out(self, request: _Request) -> None:
        self.server.arrived(request)
        self.refused_picture(request, protocol.model_failed(TimeoutError(f"no answer in {PREDICT_TIMEOUT_S:g} s")))

    def _finish(self, request: _Request, answer: bytes) -> None:
        """Write the answer to the request that was waiting for the model, then go on to the next."""
        self._forget(request)
        self._write(answer)
        if self.answering is request:
            self.answering = None
        if not request.keep_alive:
            self._close_after_answer()
        elif not self.closing:
            self._answer_next()

    def _problem(self, problem: RequestProblem, *, close: bool) -> bytes:
        """``problem``'s answer, counted in ``GET /stats``'s errors by status."""
        with self.server.stats.lock:
            errors = self.server.stats.errors
            errors[str(problem.status)] = errors.get(str(problem.status), 0) + 1
        return protocol.problem_answer(problem, close=close)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # ---- refusing and closing ---------------------------------------------------------------
    def _stop(self, problem: RequestProblem) -> None:
        self._refuse(problem)
        raise _Stop

    def _refuse(self, problem: RequestProblem) -> None:
        """Answer ``problem`` once the requests before it are answered, and read nothing more:
        the rest of this connection's bytes (a body not wanted, the rest of a bad head) aren't a
        request."""
        if self.closing:
            return
        self.closing = True
        self._cancel_timer()
        if self.reading is not None:
            self._forget(self.reading)
            self.reading = None
        self.queued.append(_Refusal(problem))
        self._answer_next()

    def _close_after_answer(self) -> None:
        """Close once the answer is out, reading (and dropping) what the client still sends for a
        moment first: closing with its bytes unread would reset the connection before the
        client reads the answer."""
        self.closing = True
        self._cancel_timer()
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.timer = self.server.loop.call_later(REFUSAL_LINGER_S, self.transport.close)

    def _forget(self, request: _Request) -> None:
        """``request`` is answered, or never will be: it no longer counts as arriving or in flight."""
        request.done = True
        if request.timer is not None:
            request.timer.cancel()
        self.server.arrived(request)
        if request.in_flight:
            request.in_flight = False
            self.server.in_flight -= 1

    # ---- deadlines --------------------------------------------------------------------------
    def _deadline(self, phase: str, seconds: float) -> None:
        """From now on, ``phase`` ("head", "body" or "idle") must be over within ``seconds``:
        one deadline for the whole phase, not a timeout per read that a trickle resets."""
        self._cancel_timer()
        self.phase = phase
        self.timer = self.server.loop.call_later(seconds, self._deadline_passed, phase, seconds)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _deadline_passed(self, phase: str, seconds: float) -> None:
        self.timer = None
        if phase == "idle":
            self.transport.close()  # kept alive long enough: the client reconnects when it needs to
        else:
            self._refuse(protocol.head_too_slow(seconds) if phase == "head" else protocol.body_too_slow(seconds))

    def _behind(self) -> bool:
        """Whether answers to earlier requests are still to be written before this one's."""
        return self.answering is not None or bool(self.queued)


class EndpointServer:
    """The listening socket, its connections and the threads behind them. Built on the main
    thread; :meth:`serve_forever` runs the event loop on another."""

    def __init__(self, port: int, *, preprocess, batcher: Batcher, stats: Stats, max_body_bytes: int,
                 limits: ServerLimits | None = None, decoders: int = 2):
        self.preprocess, self.batcher, self.stats = preprocess, batcher, stats
        self.max_body_bytes = max_body_bytes
        self.limits = limits or ServerLimits()
        self.in_flight = 0  # invocations read but not answered, so shutdown can let them finish
        self.hung_up = 0  # clients gone before their answer
        self.refused = 0  # connections turned away over the cap
        self._refusing = 0
        self._open: dict[Connection, float | None] = {}  # connection → when it became idle (None: busy)
        self._decoders = ThreadPoolExecutor(max_workers=decoders, thread_name_prefix="decode")
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_quiet_about_hang_ups)
        try:
            # backlog: the default of 100 is plenty; http.server's 5 dropped connections once
            self._listening = self.loop.run_until_complete(
                self.loop.create_server(lambda: Connection(self), HOST, port, backlog=128))
        except BaseException:
            self.loop.close()
            self._decoders.shutdown(wait=False)
            raise
        self.server_address = self._listening.sockets[0].getsockname()[:2]

    # ---- running ----------------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Run the loop until :meth:`close` (on a thread of its own)."""
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def shutdown(self) -> None:
        """Stop taking connections (any thread); those open are still answered."""
        done = threading.Event()

        def stop_listening() -> None:
            self._listening.close()
            done.set()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(stop_listening)
            done.wait(5)

    def close(self, thread: threading.Thread | None = None, grace_s: float = 10.0) -> None:
        """End the loop, then close every connection and the decoding threads (any thread but the loop's)."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if thread is not None:
            thread.join(timeout=grace_s)
        if not self.loop.is_running():
            for connection in list(self._open):
                connection.transport.abort()
            self._listening.close()
            self.loop.run_until_complete(asyncio.sleep(0))  # let the transports finish closing
            self.loop.close()
        self._decoders.shutdown(wait=False, cancel_futures=True)

    # ---- predictions ------------------------------------------------------------------------
    def predict(self, connection: Connection, request: _Request) -> None:
        """Decode ``request``'s picture on a decoding thread and queue it for the model."""
        self._decoders.submit(self._decode_and_queue, connection, request)

    def _decode_and_queue(self, connection: Connection, request: _Request) -> None:
        loop, body = self.loop, b"".join(request.body)
        request.body = []
        try:
            pixels = self.preprocess(body)
        except RequestProblem as problem:
            self.arrived(request)
            loop.call_soon_threadsafe(connection.refused_picture, request, problem)
            return
        future = self.batcher.submit(pixels)
        self.arrived(request)  # after submit: the batcher trusts `incoming == 0` to mean all are queued
        future.add_done_callback(lambda done: loop.call_soon_threadsafe(connection.answered, request, done))

    def arrived(self, request: _Request) -> None:
        """``request``'s picture no longer counts as arriving (any thread, once)."""
        with self.stats.lock:
            if request.arriving:
                request.arriving = False
                self.stats.incoming -= 1

    # ---- connections ------------------------------------------------------------------------
    def admit(self, connection: Connection) -> bool:
        """Take a slot for ``connection``, closing the connection idle longest if all are taken;
        False when all are busy."""
        if len(self._open) >= self.limits.max_connections:
            idle = [(since, id(c), c) for c, since in self._open.items() if since is not None]
            if not idle:
                return False
            _, _, longest = min(idle)
            del self._open[longest]
            longest.transport.close()  # its client reconnects, as after any keep-alive close
        self._open[connection] = None
        return True

    def refuse(self, transport: asyncio.Transport) -> None:
        """A JSON 503 for a connection :meth:`admit` had no slot for, then close it; a flood
        beyond REFUSING_AT_ONCE is closed without one."""
        self.refused += 1
        if self._refusing >= REFUSING_AT_ONCE:
            transport.abort()
            return
        self._refusing += 1
        transport.write(protocol.problem_answer(protocol.BUSY, close=True))
        transport.write_eof()

        def close() -> None:
            self._refusing -= 1
            transport.close()

        self.loop.call_later(REFUSAL_LINGER_S, close)  # read what it sends first, so closing doesn't reset it

    def idle(self, connection: Connection) -> None:
        if connection in self._open:
            self._open[connection] = time.monotonic()

    def busy(self, connection: Connection) -> None:
        if connection in self._open:
            self._open[connection] = None

    def release(self, connection: Connection) -> None:
        self._open.pop(connection, None)

    def counts(self) -> dict[str, int]:
        """What ``GET /stats`` adds to the batcher's counters about connections."""
        return {"connections": len(self._open), "idle_connections": sum(since is not None for since in self._open.values()),
                "refused_connections": self.refused, "hung_up": self.hung_up}


def _quiet_about_hang_ups(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """A client hanging up explains no failure; anything else is a bug, and goes to the log."""
    if isinstance(context.get("exception"), ConnectionError):
        return
    loop.default_exception_handler(context)
