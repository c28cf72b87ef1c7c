"""The local endpoint speaks HTTP/1.1 the way real clients use it: curl asks before sending a
body (Expect: 100-continue), a client may send requests ahead of its answers (pipelining) or
close its side once it has asked (half-close), an HTTP/1.0 client gets its answer and the
connection closed, and a head too large to be honest is refused, in JSON like every answer."""

import http.client
import json
import socket

import pytest
from test_local_endpoint import SHAPE, photo  # noqa: F401 - the same model and photos
from test_local_endpoint import model_path, reference  # noqa: F401 - fixtures

from sagewiz.core.local.endpoint import start_endpoint

pytestmark = pytest.mark.usefixtures("float32_inference")  # answers compared at 1e-5 (see conftest)


@pytest.fixture(scope="module")
def served(model_path, tmp_path_factory):  # noqa: F811 - the imported fixture
    endpoint = start_endpoint(model_path, tmp_path_factory.mktemp("http"))
    yield endpoint
    endpoint.stop()


def connect(endpoint) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(endpoint.url.rsplit(":", 1)[1])), timeout=30)


def invocation(data: bytes, *extra: bytes) -> bytes:
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n" % len(data)
    return head + b"".join(line + b"\r\n" for line in extra) + b"\r\n"


def answers(sock: socket.socket, count: int) -> list[tuple[int, dict]]:
    """The next ``count`` answers on ``sock``, in the order they came (several may arrive in one
    packet, so they are split by their Content-Length)."""
    read, stream = [], sock.makefile("rb")
    for _ in range(count):
        status = int(stream.readline().split()[1])
        headers = http.client.parse_headers(stream)
        read.append((status, json.loads(stream.read(int(headers["Content-Length"])))))
    return read


def test_curl_asking_before_it_sends_a_body_is_told_to_go_on_and_gets_its_answer(served, reference):  # noqa: F811
    data = photo(seed=11)
    with connect(served) as sock:
        sock.sendall(invocation(data, b"Expect: 100-continue"))
        interim = sock.recv(64)
        sock.sendall(data)
        [(status, body)] = answers(sock, 1)

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert status == 200 and body["prediction"] == pytest.approx(reference(data), abs=1e-5)


def test_a_body_the_endpoint_wont_take_is_refused_before_it_is_sent(served):
    with connect(served) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 5000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        [(status, body)] = answers(sock, 1)  # no body was sent: the refusal came without it

    assert status == 415 and "image/jpeg" in body["error"] and body["hint"]


def test_requests_sent_ahead_of_their_answers_are_answered_in_order(served, reference):  # noqa: F811
    first, second = photo(seed=21), photo(seed=22)
    with connect(served) as sock:
        sock.sendall(invocation(first) + first + b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" + invocation(second) + second)
        (s1, a1), (s2, a2), (s3, a3) = answers(sock, 3)

    assert (s1, s2, s3) == (200, 200, 200)
    assert a1["prediction"] == pytest.approx(reference(first), abs=1e-5)
    assert a2["status"] == "ok"
    assert a3["prediction"] == pytest.approx(reference(second), abs=1e-5)
    assert a1["prediction"] != pytest.approx(a3["prediction"], abs=1e-4)  # two pictures, two answers


def test_a_client_that_closes_its_side_once_it_has_asked_still_gets_its_answer(served, reference):  # noqa: F811
    data = photo(seed=31)
    with connect(served) as sock:
        sock.sendall(invocation(data) + data)
        sock.shutdown(socket.SHUT_WR)  # as `nc -N` does
        [(status, body)] = answers(sock, 1)
        rest = sock.recv(100)

    assert status == 200 and body["prediction"] == pytest.approx(reference(data), abs=1e-5)
    assert rest == b""  # and then the endpoint closes too


def test_an_http_1_0_client_gets_its_answer_and_the_connection_closes(served):
    with connect(served) as sock:
        sock.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in head
    assert json.loads(body)["status"] == "ok"


def test_a_head_over_a_mebibyte_is_refused_in_json(served):
    lines = b"".join(b"X-Padding-%d: %s\r\n" % (i, b"a" * 60_000) for i in range(40))  # 2.4 MB, each line allowed
    with connect(served) as sock:
        try:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
        except OSError:
            pass  # refused while still sending: the answer is waiting all the same
        [(status, body)] = answers(sock, 1)

    assert status == 431 and "headers are too large" in body["error"] and body["hint"]
    assert served.predict(photo(), "image/jpeg")


def test_thousands_of_requests_sent_ahead_of_one_prediction_all_get_their_answers(served):
    data = photo(seed=41)
    pings = 3000  # all behind one prediction, which the model answers while they are read
    with connect(served) as sock:
        sock.sendall(invocation(data) + data + b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" * pings)
        read = answers(sock, 1 + pings)

    assert [status for status, _ in read] == [200] * (1 + pings)
    assert "prediction" in read[0][1] and all(body["status"] == "ok" for _, body in read[1:])


def test_a_picture_refused_after_its_body_arrived_counts_among_the_errors(served):
    before = served.stats()["errors"].get("400", 0)
    with connect(served) as sock:
        sock.sendall(invocation(b"not a picture") + b"not a picture")
        [(status, body)] = answers(sock, 1)

    assert status == 400 and "not an image" in body["error"]
    assert served.stats()["errors"].get("400", 0) == before + 1
