"""The local endpoint can't be held hostage: a client that trickles its request is cut off at
the phase's deadline, connections over the cap get a JSON 503, a client hanging up leaves no
traceback, big pictures sent at once take turns instead of taking the memory, and even the
refusals the HTTP library makes itself are JSON. Honest clients keep their connections."""

import http.client
import io
import json
import select
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from test_local_endpoint import SHAPE, photo  # noqa: F401 - the same model, photos and fixtures
from test_local_endpoint import model_path, reference  # noqa: F401 - fixtures

from sagewiz.core.local.endpoint import start_endpoint
from sagewiz.core.local.limits import PixelBudget, ServerLimits

pytestmark = pytest.mark.usefixtures("float32_inference")  # answers compared at 1e-5 (see conftest)
DEADLINE_S = 1.0
CAP = 4
TRICKLE_INTERVAL_S = 0.1  # far shorter than any per-read timeout the server had (60 s)
TRICKLE_STEPS = 80  # 8 s of trickling: a deadline of 1 s cuts it off long before


@pytest.fixture(scope="module")
def guarded(model_path, tmp_path_factory):  # noqa: F811 - the imported fixture
    served = start_endpoint(model_path, tmp_path_factory.mktemp("guarded"),
                            limits=ServerLimits(head_timeout_s=DEADLINE_S, body_timeout_s=DEADLINE_S,
                                                max_connections=CAP))
    yield served
    served.stop()


def port_of(endpoint) -> int:
    return int(endpoint.url.rsplit(":", 1)[1])


def read_answer(sock: socket.socket) -> tuple[int, str | None, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.getheader("Content-Type"), response.read()


def send_raw(endpoint, data: bytes) -> tuple[int, str | None, bytes]:
    """Exactly these bytes on a fresh connection, and the answer."""
    with socket.create_connection(("127.0.0.1", port_of(endpoint)), timeout=30) as sock:
        sock.sendall(data)
        return read_answer(sock)


def server_counts(endpoint) -> dict:
    status, _, body = send_raw(endpoint, b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200
    return json.loads(body)


def wait_until(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def wait_for_quiet(endpoint) -> None:
    """Until the requests earlier tests left behind are gone (the /stats one counts itself; idle
    kept-alive connections make way for new ones)."""
    def quiet() -> bool:
        counts = server_counts(endpoint)
        return counts.get("connections", 0) - counts.get("idle_connections", 0) <= 1
    assert wait_until(quiet)


def trickle(sock: socket.socket, piece: bytes) -> int:
    """Send ``piece`` every TRICKLE_INTERVAL_S until the server answers or hangs up; how many went."""
    for sent in range(TRICKLE_STEPS):
        if select.select([sock], [], [], TRICKLE_INTERVAL_S)[0]:
            return sent  # the server has answered (or closed)
        try:
            sock.sendall(piece)
        except OSError:
            return sent
    return TRICKLE_STEPS


# ---- deadlines ----------------------------------------------------------------------------------

@pytest.mark.parametrize("says, start, piece", [
    ("request's head", b"POST /invocations HTTP/1.1\r\nHost: x\r\n", b"X-Slowly: one more header line\r\n"),
    ("image took longer", b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n", b"x"),
])
def test_a_client_trickling_its_request_is_cut_off_at_the_deadline_with_a_json_408(guarded, says, start, piece):
    wait_for_quiet(guarded)
    with socket.create_connection(("127.0.0.1", port_of(guarded)), timeout=10) as sock:
        sock.sendall(start)

        sent = trickle(sock, piece)
        status, content_type, body = read_answer(sock)

    assert sent < TRICKLE_STEPS  # cut off while it was still trickling
    assert (status, content_type) == (408, "application/json")
    assert says in json.loads(body)["error"] and json.loads(body)["hint"]
    assert guarded.predict(photo(), "image/jpeg")


def test_an_honest_client_keeps_its_connection_across_pauses_longer_than_the_deadlines(guarded):
    wait_for_quiet(guarded)
    data = photo("PNG")
    connection = http.client.HTTPConnection("127.0.0.1", port_of(guarded), timeout=30)
    try:
        answers = []
        for _ in range(2):
            connection.request("POST", "/invocations", body=data, headers={"Content-Type": "image/png"})
            if not answers:
                first_socket = connection.sock
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())))
            time.sleep(DEADLINE_S * 1.5)  # a pause between requests is not a slow request
        assert connection.sock is first_socket  # the same kept-alive connection answered both
    finally:
        connection.close()

    assert [status for status, _ in answers] == [200, 200]
    assert answers[0][1] == answers[1][1]


# ---- connections ------------------------------------------------------------------------------

def test_connections_over_the_cap_get_a_json_503_until_the_others_are_done(guarded):
    wait_for_quiet(guarded)
    busy = [socket.create_connection(("127.0.0.1", port_of(guarded)), timeout=10) for _ in range(CAP)]
    try:
        for sock in busy:  # each in the middle of its request's head
            sock.sendall(b"POST /invocations HTTP/1.1\r\n")

        status, content_type, body = send_raw(guarded, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        for sock in busy:
            sock.close()

    assert (status, content_type) == (503, "application/json")
    assert "as many connections" in json.loads(body)["error"] and json.loads(body)["hint"]
    assert wait_until(lambda: send_raw(guarded, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200)
    assert server_counts(guarded)["refused_connections"] >= 1


def test_idle_kept_alive_connections_make_way_for_a_new_client(guarded):
    wait_for_quiet(guarded)
    idle = [http.client.HTTPConnection("127.0.0.1", port_of(guarded), timeout=10) for _ in range(CAP)]
    try:
        for connection in idle:  # each asks once and keeps its connection
            connection.request("GET", "/ping")
            assert connection.getresponse().read()

        status, _, _ = send_raw(guarded, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        for connection in idle:
            connection.close()

    assert status == 200


# ---- hanging up ---------------------------------------------------------------------------------

def test_a_client_hanging_up_before_its_answer_leaves_no_traceback_in_the_log(guarded):
    wait_for_quiet(guarded)
    data = photo("PNG", size=(400, 300))
    before = server_counts(guarded).get("hung_up", 0)
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", port_of(guarded)), timeout=10)
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(data) + data)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # at once, with a reset: the answer finds nobody to write to

    counted = wait_until(lambda: server_counts(guarded).get("hung_up", 0) >= before + 3, seconds=10)
    log = Path(guarded.log_path).read_text()
    assert "Traceback" not in log and "Error" not in log
    assert counted  # the server did see them go
    assert guarded.predict(photo(), "image/jpeg")


# ---- the HTTP library's own refusals -------------------------------------------------------------

HUGE = b"a" * 70_000
STDLIB_REFUSALS = {
    "unknown method": (b"BREW /invocations HTTP/1.1\r\nHost: x\r\n\r\n", 501, "doesn't take BREW"),
    "chunked body": (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501, "Transfer-Encoding chunked"),
    "header line too long": (b"GET /ping HTTP/1.1\r\nX-Long: " + HUGE + b"\r\n\r\n", 431, "headers are too large"),
    "too many headers": (b"GET /ping HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n",
                         431, "headers are too large"),
    "url too long": (b"GET /" + HUGE + b" HTTP/1.1\r\n\r\n", 414, "URL is longer"),
    "not http": (b"hello there\r\n\r\n", 400, "can't be read as HTTP"),
}


@pytest.mark.parametrize("case", list(STDLIB_REFUSALS))
def test_a_request_the_http_library_refuses_still_gets_a_json_reason(guarded, case):
    wait_for_quiet(guarded)
    request, expected_status, says = STDLIB_REFUSALS[case]

    status, content_type, body = send_raw(guarded, request)

    assert (status, content_type) == (expected_status, "application/json")
    reason = json.loads(body)
    assert says in reason["error"] and reason["hint"]
    assert guarded.predict(photo(), "image/jpeg")


# ---- memory -------------------------------------------------------------------------------------

BIG = (4000, 4000)  # 16 megapixels: 64 MB once decoded (Pillow keeps RGB in 4 bytes a pixel)
AT_ONCE = 4


def big_png() -> bytes:
    image = Image.new("RGB", BIG, (120, 30, 200))
    for i in range(16):  # a few blocks, so it is a picture and not one colour
        image.paste((i * 15, 100, 50), (i * 240, i * 240, i * 240 + 300, i * 240 + 300))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def memory_of(pid: int) -> dict[str, int]:
    """The process's resident memory now and at its peak, in bytes (Linux)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM")}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_big_pictures_sent_at_once_take_turns_so_the_memory_stays_bounded(model_path, tmp_path):  # noqa: F811
    one_picture = BIG[0] * BIG[1]
    served = start_endpoint(model_path, tmp_path, limits=ServerLimits(pixel_budget=one_picture))
    try:
        data = big_png()
        assert served.predict(photo(), "image/jpeg")  # warmed up: the model has run once
        before = memory_of(served.pid)
        answers = []
        senders = [threading.Thread(target=lambda: answers.append(served.predict(data, "image/png")))
                   for _ in range(AT_ONCE)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        after = memory_of(served.pid)
    finally:
        served.stop()

    assert len(answers) == AT_ONCE
    decoded_bytes = one_picture * 4
    grew = after["VmHWM"] - before["VmRSS"]
    print(f"peak memory grew by {grew / 2**20:.0f} MiB for {AT_ONCE} pictures of {decoded_bytes / 2**20:.0f} MiB decoded")
    assert grew < 2 * decoded_bytes  # one picture decoded at a time (and its copy), not all of them


def test_the_pixel_budget_lets_pictures_through_in_turn():
    budget = PixelBudget(100)

    first = budget.acquire(80, timeout=1)
    refused = budget.acquire(30, timeout=0.05)  # waits its turn, then gives up
    budget.release(first)
    huge = budget.acquire(1_000, timeout=1)  # bigger than the whole budget: alone, it gets through

    assert (first, refused, huge) == (80, None, 100)
    assert budget.in_use() == 100


def test_a_big_grey_picture_decoded_economically_gets_the_answer_training_would_give_it(guarded, reference):  # noqa: F811
    grey = Image.effect_noise((1500, 1100), 60).convert("L")
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")
    data = buffer.getvalue()

    assert guarded.predict(data, "image/png").probabilities == pytest.approx(reference(data), abs=1e-5)
