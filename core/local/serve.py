"""The local endpoint's server: SageMaker's inference protocol over HTTP, in its own process.

Run as ``python -m sagewiz.core.local.serve --model PATH --port 0 --ready-file FILE``. It speaks
what the Image Classification algorithm's endpoints speak — ``GET /ping``, and ``POST
/invocations`` with an ``image/jpeg``, ``image/png`` or ``application/x-image`` body answered
by ``{"prediction": [p0, p1, …]}`` (probabilities in label order; JSON, or one JSON line for
``Accept: application/jsonlines``) — so code written against it works unchanged on AWS.

Only 127.0.0.1 is ever bound: the endpoint is for this computer, not the network. Once it
listens, ``{"port", "pid", "url", "max_body_bytes"}`` is written atomically to the ready file;
:mod:`sagewiz.core.local.endpoint` starts, talks to and stops it.

Requests are decoded and preprocessed on their own threads (Pillow releases the GIL), then the
main thread, which runs the model (:mod:`sagewiz.core.local.batching`), takes whatever has queued
up as one batch: concurrent clients share a forward pass instead of taking turns. ``GET /stats``
shows how many batches ran, for tests and benchmarks.

No client can hold the server hostage (:mod:`sagewiz.core.local.limits`): a request's head and
body each have a deadline, connections are capped (over the cap: a JSON 503), and the pixels
decoded at once are bounded, so concurrent big pictures take turns instead of taking the
memory. Every answer, the standard library's own refusals included, is JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from sagewiz.core.local.batching import Batcher, Stats
from sagewiz.core.local.limits import ConnectionSlots, DeadlinePassed, DeadlineReader, PixelBudget, ServerLimits
from sagewiz.core.local.pictures import RequestProblem, preprocess_for

HOST = "127.0.0.1"
# What SageMaker's algorithm takes (IC-inference); the media type is compared without parameters.
CONTENT_TYPES = ("image/jpeg", "image/png", "application/x-image")
# What it answers in: JSON for real-time endpoints, one JSON line for batch transform.
ACCEPT_TYPES = ("application/json", "application/jsonlines")
ROUTES = {"/ping": ("GET",), "/invocations": ("POST",), "/stats": ("GET",)}
SHUTDOWN_GRACE_S = 10.0
LOG_PREFIX = "sagewiz endpoint"
PREDICT_TIMEOUT_S = 120.0
MODEL_HINT = "Choose the model.tar.gz of a training job that completed (sagewiz resources lists them)."
ROUTES_HINT = "Send predictions to POST /invocations; GET /ping says whether the model is ready."
SEND_TIMEOUT_S = 30.0  # an answer is a few hundred bytes: it only waits when the client reads nothing
PILLOW_BLOCK_SIZE = "64m"  # over glibc's largest mmap threshold (32 MB)


class EndpointServer(ThreadingHTTPServer):
    """The HTTP server with the model state its handlers share."""

    daemon_threads = True  # an idle keep-alive connection must not hold up shutdown
    request_queue_size = 128  # the default backlog of 5 drops connections when many clients start at once

    def __init__(self, port: int, *, preprocess, batcher: Batcher, stats: Stats, max_body_bytes: int,
                 limits: ServerLimits | None = None):
        self.preprocess, self.batcher, self.stats = preprocess, batcher, stats
        self.max_body_bytes = max_body_bytes
        self.limits = limits or ServerLimits()
        self.slots = ConnectionSlots(self.limits.max_connections)
        self.in_flight = 0  # invocations being answered, so shutdown can let them finish
        self.hung_up = 0  # clients gone before their answer
        super().__init__((HOST, port), Handler)

    def process_request(self, request, client_address) -> None:
        if self.slots.admit(request):
            super().process_request(request, client_address)  # its thread releases the slot
        else:
            self.slots.refuse(request, _BUSY_ANSWER)

    def shutdown_request(self, request) -> None:
        self.slots.release(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        """Quiet when the client hung up (mid-answer or mid-request): that explains no failure.
        Anything else is a bug, and its traceback goes to the log."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            with self.stats.lock:
                self.hung_up += 1
            return
        super().handle_error(request, client_address)

    def counts(self) -> dict[str, int]:
        """What ``GET /stats`` adds to the batcher's counters about connections and pixels."""
        with self.stats.lock:
            hung_up = self.hung_up
        return {**self.slots.counts(), "hung_up": hung_up}


def _json_answer(status: int, reason: str, payload: dict, headers: dict[str, str]) -> bytes:
    body = json.dumps(payload).encode()
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()), "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_BUSY_ANSWER = _json_answer(503, "Service Unavailable", {
    "error": "The endpoint is answering as many connections as it takes at once.",
    "hint": "Try again in a moment, or send from fewer connections at once (each keeps its connection)."},
    {"Retry-After": "1"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client pays the TCP handshake once
    server_version = "sagewiz-endpoint/1"
    timeout = SEND_TIMEOUT_S  # for sends; reads have their phase's deadline (DeadlineReader)
    # Headers and body go out as two writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms on Linux) before it leaves.
    disable_nagle_algorithm = True
    server: EndpointServer

    # ---- connection ------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.reader = DeadlineReader(self.connection, SEND_TIMEOUT_S)
        self.rfile = io.BufferedReader(self.reader)
        self.reader.start("head", self.server.limits.head_timeout_s)  # a new client sends at once
        self._answered = False

    def handle_one_request(self) -> None:
        """One request, each phase against its deadline: idle (kept alive, waiting for the next
        request), then the head from its first byte; ``_invoke`` times the body."""
        limits, slots = self.server.limits, self.server.slots
        if self._answered:
            slots.idle(self.connection)
            self.reader.start("idle", limits.idle_timeout_s)
            try:
                began = self.rfile.peek(1)
            except (DeadlinePassed, OSError):  # idle too long, or closed to make room
                began = b""
            if not began or not slots.busy(self.connection):
                self.close_connection = True
                return
            self.reader.start("head", limits.head_timeout_s)
        self._answered = True
        self._body_read = False  # until _invoke has read the whole body, an error closes the connection
        try:
            super().handle_one_request()
        except DeadlinePassed as passed:
            self._prepare_bare_answer()
            self._send_problem(RequestProblem(408, f"The request's head (its request line and headers) took longer "
                                                   f"than the {passed.seconds:g} s the endpoint allows.",
                                              "Send the whole request at once."))

    def _prepare_bare_answer(self) -> None:
        """What answering needs when the request line was never read in full, or not as HTTP."""
        if getattr(self, "request_version", None) in (None, "", "HTTP/0.9"):
            # An unreadable request line counts as HTTP/0.9, answered without a status line or
            # headers: give the client both, so it can read the reason.
            self.request_version = "HTTP/1.0"
        if not hasattr(self, "requestline"):
            self.requestline = ""
        self.command = getattr(self, "command", None) or ""

    # ---- routing ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def _check_route(self, method: str) -> str:
        if self.headers.get("Transfer-Encoding"):
            # A chunked body would be read as the next request; SageMaker's clients send a length.
            raise RequestProblem(501, f"The endpoint doesn't take Transfer-Encoding {self.headers['Transfer-Encoding']}.",
                                 "Send the image as one body with a Content-Length header (no chunked encoding).")
        path = urlsplit(self.path).path
        if path not in ROUTES:
            raise RequestProblem(404, f"There is nothing at {path}.", ROUTES_HINT)
        allowed = ROUTES[path]
        if method not in allowed:
            raise RequestProblem(405, f"{path} takes {' or '.join(allowed)}, not {method}.",
                                 f"Use {allowed[0]} {path}.", headers={"Allow": ", ".join(allowed)})
        return path

    def _route(self, method: str) -> None:
        try:
            path = self._check_route(method)
            if path == "/ping":
                self._send_json(200, {"status": "ok", "pid": os.getpid(), "max_body_bytes": self.server.max_body_bytes})
            elif path == "/stats":
                self._send_json(200, {**self.server.stats.as_dict(), **self.server.counts()})
            else:
                self._invoke()
        except RequestProblem as problem:
            self._send_problem(problem)

    def handle_expect_100(self) -> bool:
        """Refuse a body we won't take before the client sends it (curl asks first for big ones)."""
        try:
            if self._check_route(self.command) == "/invocations":
                self._check_headers()
        except RequestProblem as problem:
            self._send_problem(problem)
            return False
        return super().handle_expect_100()

    # ---- predictions -------------------------------------------------------------------------
    def _check_headers(self) -> tuple[int, str]:
        """The body's length and the answer's media type, or the reason we won't read the body."""
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media not in CONTENT_TYPES:
            given = f"Content-Type {media}" if media else "no Content-Type"
            raise RequestProblem(415, f"The endpoint takes {', '.join(CONTENT_TYPES)}; this request has {given}.",
                                 "Send the image file's bytes with Content-Type image/jpeg, image/png or application/x-image.")
        answer = _answer_type(self.headers.get("Accept"))
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise RequestProblem(411, "The request has no Content-Length.",
                                 "Send the image as one body with a Content-Length header (no chunked encoding).")
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            raise RequestProblem(400, f"Content-Length {length_text!r} is not a size.",
                                 "Send the image's size in bytes as Content-Length.") from None
        if length > self.server.max_body_bytes:
            raise RequestProblem(413, f"The image is {length:,} bytes; this endpoint takes at most "
                                      f"{self.server.max_body_bytes:,} (SageMaker's real-time limit is 6 MB).",
                                 "Send a smaller image: resize or re-compress it first.")
        if length == 0:
            raise RequestProblem(400, "The request has an empty body.", "Send the image file's bytes as the body.")
        return length, answer

    def _invoke(self) -> None:
        length, answer = self._check_headers()
        stats = self.server.stats
        with stats.lock:
            stats.incoming += 1
            self.server.in_flight += 1
        queued = False
        try:
            self.reader.start("body", self.server.limits.body_timeout_s)
            try:
                body = self.rfile.read(length)
            except DeadlinePassed as passed:
                raise RequestProblem(408, f"The image took longer than the {passed.seconds:g} s the endpoint allows "
                                          "to arrive.", "Send the whole image at once.") from None
            if len(body) < length:
                raise RequestProblem(400, f"The body ended after {len(body):,} of {length:,} bytes.",
                                     "Send the whole image; check the Content-Length.")
            self._body_read = True
            image = self.server.preprocess(body)
            future = self.server.batcher.submit(image)
            queued = True
            with stats.lock:  # after submit: the batcher trusts `incoming == 0` to mean all are queued
                stats.incoming -= 1
            try:
                probabilities = future.result(timeout=PREDICT_TIMEOUT_S)
            except Exception as error:  # noqa: BLE001 - becomes a 500 with the reason, not a dead socket
                print(f"{LOG_PREFIX}: the model failed on a batch: {error}", file=sys.stderr, flush=True)
                raise RequestProblem(500, f"The model failed on this image ({type(error).__name__}: {error}).",
                                     "Look at the endpoint's log; stop the endpoint and deploy it again.") from None
            body_out = json.dumps({"prediction": probabilities}).encode()
            if answer == "application/jsonlines":
                body_out += b"\n"
            self._send(200, body_out, answer)
        finally:
            with stats.lock:
                if not queued:
                    stats.incoming -= 1
                self.server.in_flight -= 1

    # ---- answers -----------------------------------------------------------------------------
    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (an unknown method, a URL or headers too large, a
        request that isn't HTTP) in JSON like every other answer, not its HTML page."""
        self._prepare_bare_answer()
        self._send_problem(RequestProblem(code, *_stdlib_refusal(code, message, self)))

    def _send_problem(self, problem: RequestProblem) -> None:
        with self.server.stats.lock:
            key = str(problem.status)
            self.server.stats.errors[key] = self.server.stats.errors.get(key, 0) + 1
        if not self._body_read:
            # The body (if any) is unread, so the connection's next bytes aren't a request.
            self.close_connection = True
        self._send_json(problem.status, {"error": problem.error, "hint": problem.hint}, problem.headers)

    def _send_json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: one line per request would drown the log that explains a failure."""


def _stdlib_refusal(code: int, message: str | None, request: Handler) -> tuple[str, str]:
    """The error and hint for a refusal http.server makes itself (``message`` is its reason)."""
    if code == 501:
        return f"The endpoint doesn't take {request.command} requests.", ROUTES_HINT
    if code == 414:
        return "The request's URL is longer than the 65,536 bytes the endpoint reads.", ROUTES_HINT
    if code == 431:
        return (f"The request's headers are too large ({(message or 'too large').lower()}).",
                "Send fewer, shorter headers: Content-Type and Content-Length are all the endpoint needs.")
    reason = message or request.responses.get(code, ("",))[0] or f"status {code}"
    return f"The request can't be read as HTTP ({reason}).", "Send an HTTP/1.1 request. " + ROUTES_HINT


def _answer_type(accept: str | None) -> str:
    """The media type to answer in, from the Accept header (JSON unless JSON Lines is asked for)."""
    if not accept:
        return "application/json"
    wanted = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    for media in wanted:
        if media in ACCEPT_TYPES:
            return media
        if media in ("*/*", "application/*"):
            return "application/json"
    raise RequestProblem(406, f"The endpoint answers in {' or '.join(ACCEPT_TYPES)}; this request accepts only {accept}.",
                         "Leave out the Accept header, or ask for application/json.")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sagewiz.core.local.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="model.tar.gz to serve")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--ready-file", type=Path, help="where to write {port, pid, url} once listening")
    parser.add_argument("--max-batch", type=int, default=16, help="most images in one forward pass (default 16)")
    parser.add_argument("--max-body-mb", type=float, default=6.0, help="largest image body in MB (default 6, as SageMaker)")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0,
                        help="how long a batch may wait for images still being decoded, at least (default 2; "
                             "it waits up to the last forward pass's time when that is longer)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 …")
    ServerLimits.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.max_batch < 1 or args.max_body_mb <= 0 or args.batch_wait_ms < 0 or not 0 <= args.port < 65536:
        parser.error("--max-batch must be ≥ 1, --max-body-mb > 0, --batch-wait-ms ≥ 0 and --port 0–65535")
    try:
        args.limits = ServerLimits.from_arguments(args)
    except ValueError as error:
        parser.error(str(error))
    return args


def _write_ready_file(path: Path, info: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(info))
    os.replace(partial, path)  # a reader never sees half a file


def _fail(message: str, hint: str | None = None) -> int:
    """Say why the server can't start, in the two lines endpoint.py reads back, and exit 2."""
    print(f"{LOG_PREFIX}: {message}", file=sys.stderr, flush=True)
    if hint:
        print(f"{LOG_PREFIX} hint: {hint}", file=sys.stderr, flush=True)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if not args.model.is_file():  # before importing torch: say so in a blink, not seconds
        return _fail(f"There is no model archive at {args.model}.", MODEL_HINT)
    # Before Pillow is imported (it reads this once). Pillow allocates a picture in blocks of
    # 16 MB by default, which glibc serves from each thread's own heap and keeps once freed:
    # pictures decoded in turn on different threads still added up. Blocks this big are
    # mapped and unmapped by glibc's defaults; where keep_freed_memory() below takes hold, the
    # process's one heap holds them instead and the next picture reuses them, whichever thread.
    os.environ.setdefault("PILLOW_BLOCK_SIZE", PILLOW_BLOCK_SIZE)
    import torch
    from PIL import Image

    from sagewiz.core.errors import WizardError

    warnings.simplefilter("error", Image.DecompressionBombWarning)  # a huge image is a 400, not a log line
    from sagewiz.core.local.cores import usable_cores
    from sagewiz.core.local.memory import keep_freed_memory

    keep_freed_memory()  # each batch reuses the last one's memory instead of faulting in fresh pages
    torch.set_num_threads(usable_cores())
    stats = Stats()
    batcher = Batcher(args.model, args.device, stats, args.max_batch, args.batch_wait_ms / 1000)
    try:
        info = batcher.load()  # on this (main) thread, which runs the model from here on: see Batcher
        preprocess = preprocess_for(info, PixelBudget(args.limits.pixel_budget))
    except WizardError as error:
        return _fail(error.message, error.hint)
    except Exception as error:  # noqa: BLE001 - a bad resize value, an unusable --device, a torch error
        return _fail(f"The model can't be served ({type(error).__name__}: {error}).", MODEL_HINT)
    try:
        server = EndpointServer(args.port, preprocess=preprocess, batcher=batcher, stats=stats,
                                max_body_bytes=int(args.max_body_mb * 1024 * 1024), limits=args.limits)
    except OSError as error:
        return _fail(f"Can't listen on {HOST}:{args.port} ({error.strerror or error}).",
                     "Choose another port, or 0 for any free one.")
    port = server.server_address[1]
    url = f"http://{HOST}:{port}"
    stopping = threading.Event()

    def serve_http() -> None:
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            if not stopping.is_set():  # it failed: nobody can ask the model any more
                batcher.stop()

    def shut_down() -> None:
        server.shutdown()  # no new connections; returns once serve_forever() has
        print(f"{LOG_PREFIX}: stopping; finishing {server.in_flight} request(s) in progress", file=sys.stderr, flush=True)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        while server.in_flight > 0 and time.monotonic() < deadline:  # the model still answers them
            time.sleep(0.01)
        batcher.stop()

    def request_stop(signum, frame) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=shut_down, name="shutdown", daemon=True).start()

    previous = {number: signal.signal(number, request_stop) for number in (signal.SIGTERM, signal.SIGINT)}
    if args.ready_file:
        _write_ready_file(args.ready_file, {"port": port, "pid": os.getpid(), "url": url,
                                            "max_body_bytes": server.max_body_bytes})
    print(f"{LOG_PREFIX}: serving {args.model} (ResNet-{info.num_layers}, {info.num_classes} classes, "
          f"{'x'.join(map(str, info.image_shape))}) at {url} on {batcher.device}, pid {os.getpid()}", file=sys.stderr, flush=True)
    print(f"{LOG_PREFIX}: ResNet-{info.num_layers} {batcher.form.said}", file=sys.stderr, flush=True)
    http = threading.Thread(target=serve_http, name="http", daemon=True)
    http.start()
    try:
        batcher.run()  # until shut_down() (or a failed HTTP server) stops it
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        http.join(timeout=SHUTDOWN_GRACE_S)
        server.server_close()
        if args.ready_file:
            args.ready_file.unlink(missing_ok=True)
        print(f"{LOG_PREFIX}: stopped after {stats.predictions} prediction(s) in {stats.batches} batch(es)",
              file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
