"""What the local endpoint asks of a request and how it answers, in SageMaker's inference protocol.

The routes (``GET /ping``, ``POST /invocations``, ``GET /stats``), the media types the Image
Classification algorithm takes and answers in, the body's size, and the words of every refusal:
plain functions of a request's method, path and headers, so the server
(:mod:`sagewiz.core.local.http_server`) only moves bytes. Every answer is JSON, refusals
included: ``{"error": …, "hint": …}`` says what went wrong and what to do next.
"""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from http import HTTPStatus

from sagewiz.core.local.pictures import RequestProblem

# What SageMaker's algorithm takes (IC-inference); the media type is compared without parameters.
CONTENT_TYPES = ("image/jpeg", "image/png", "application/x-image")
# What it answers in: JSON for real-time endpoints, one JSON line for batch transform.
ACCEPT_TYPES = ("application/json", "application/jsonlines")
ROUTES = {"/ping": ("GET",), "/invocations": ("POST",), "/stats": ("GET",)}
ROUTES_HINT = "Send predictions to POST /invocations; GET /ping says whether the model is ready."
LENGTH_HINT = "Send the image as one body with a Content-Length header (no chunked encoding)."
HTTP_HINT = "Send an HTTP/1.1 request. " + ROUTES_HINT
SERVER = "sagewiz-endpoint/1"
# What http.server allowed, and so what clients were promised before: a request line or header
# line of 64 KiB, 100 headers.
MAX_LINE_BYTES = 65_536
MAX_HEADERS = 100


def check_route(method: str, path: str, headers: dict[str, str]) -> str:
    """``path`` when ``method`` may go there; raises RequestProblem (404, 405, 501) when not."""
    if "transfer-encoding" in headers:
        # A chunked body is the one kind the endpoint won't read; SageMaker's clients send a length.
        raise RequestProblem(501, f"The endpoint doesn't take Transfer-Encoding {headers['transfer-encoding']}.",
                             LENGTH_HINT)
    if path not in ROUTES:
        raise RequestProblem(404, f"There is nothing at {path}.", ROUTES_HINT)
    allowed = ROUTES[path]
    if method not in allowed:
        raise RequestProblem(405, f"{path} takes {' or '.join(allowed)}, not {method}.",
                             f"Use {allowed[0]} {path}.", headers={"Allow": ", ".join(allowed)})
    return path


def check_invocation(headers: dict[str, str], max_body_bytes: int) -> tuple[int, str]:
    """The body's length and the answer's media type for ``POST /invocations``, or the reason
    (RequestProblem) the body won't be read: decided from the headers, before any of it arrives."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        given = f"Content-Type {media}" if media else "no Content-Type"
        raise RequestProblem(415, f"The endpoint takes {', '.join(CONTENT_TYPES)}; this request has {given}.",
                             "Send the image file's bytes with Content-Type image/jpeg, image/png or application/x-image.")
    answer = answer_type(headers.get("accept"))
    length_text = headers.get("content-length")
    if length_text is None:
        raise RequestProblem(411, "The request has no Content-Length.", LENGTH_HINT)
    try:
        length = int(length_text)
        if length < 0:
            raise ValueError
    except ValueError:
        raise RequestProblem(400, f"Content-Length {length_text!r} is not a size.",
                             "Send the image's size in bytes as Content-Length.") from None
    if length > max_body_bytes:
        raise RequestProblem(413, f"The image is {length:,} bytes; this endpoint takes at most "
                                  f"{max_body_bytes:,} (SageMaker's real-time limit is 6 MB).",
                             "Send a smaller image: resize or re-compress it first.")
    if length == 0:
        raise RequestProblem(400, "The request has an empty body.", "Send the image file's bytes as the body.")
    return length, answer


def answer_type(accept: str | None) -> str:
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


def prediction_body(probabilities: list[float], media: str) -> bytes:
    body = json.dumps({"prediction": probabilities}).encode()
    return body + b"\n" if media == "application/jsonlines" else body


def unreadable(request_start: bytes, reason: str) -> RequestProblem:
    """The refusal for bytes the HTTP parser couldn't read as a request: an unknown method in an
    otherwise well-formed request line (501), or anything else (400). ``request_start`` is the
    request's first bytes, ``reason`` the parser's."""
    line = request_start.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) == 3 and parts[2].startswith(b"HTTP/") and parts[0].isalpha():
        method = parts[0].decode("latin-1")
        return RequestProblem(501, f"The endpoint doesn't take {method} requests.", ROUTES_HINT)
    return RequestProblem(400, f"The request can't be read as HTTP ({reason}).", HTTP_HINT)


def url_too_long() -> RequestProblem:
    return RequestProblem(414, f"The request's URL is longer than the {MAX_LINE_BYTES:,} bytes the endpoint reads.",
                          ROUTES_HINT)


def head_too_large(what: str) -> RequestProblem:
    return RequestProblem(431, f"The request's headers are too large ({what}).",
                          "Send fewer, shorter headers: Content-Type and Content-Length are all the endpoint needs.")


def head_too_slow(seconds: float) -> RequestProblem:
    return RequestProblem(408, f"The request's head (its request line and headers) took longer than the {seconds:g} s "
                               "the endpoint allows.", "Send the whole request at once.")


def body_too_slow(seconds: float) -> RequestProblem:
    return RequestProblem(408, f"The image took longer than the {seconds:g} s the endpoint allows to arrive.",
                          "Send the whole image at once.")


def model_failed(error: BaseException) -> RequestProblem:
    return RequestProblem(500, f"The model failed on this image ({type(error).__name__}: {error}).",
                          "Look at the endpoint's log; stop the endpoint and deploy it again.")


def problem_body(problem: RequestProblem) -> bytes:
    return json.dumps({"error": problem.error, "hint": problem.hint}).encode()


class _Clock:
    """The Date header, formatted once a second rather than once an answer."""

    second, text = -1, ""

    def date(self) -> str:
        now = int(time.time())
        if now != self.second:
            self.second, self.text = now, formatdate(now, usegmt=True)
        return self.text


_CLOCK = _Clock()


def answer(status: int, body: bytes, content_type: str = "application/json", *, headers: dict[str, str] | None = None,
           close: bool = False) -> bytes:
    """One whole HTTP/1.1 answer, head and body, as bytes to write at once (one send: no waiting
    on Nagle's algorithm for a second write)."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Server: {SERVER}", f"Date: {_CLOCK.date()}",
             f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body


def problem_answer(problem: RequestProblem, *, close: bool) -> bytes:
    return answer(problem.status, problem_body(problem), headers=problem.headers, close=close)


BUSY = RequestProblem(503, "The endpoint is answering as many connections as it takes at once.",
                      "Try again in a moment, or send from fewer connections at once (each keeps its connection).",
                      headers={"Retry-After": "1"})
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
