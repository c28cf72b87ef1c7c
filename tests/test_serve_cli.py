"""`sagewiz serve MODEL` as a user runs it: the local endpoint in the foreground on the port asked
for, recorded in the ledger like any endpoint, answering SageMaker's protocol, and gone (the
ledger says deleted) after Ctrl-C or `sagewiz cleanup`."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sagewiz.core.ledger import Ledger
from sagewiz.core.processes import process_exists
from test_predict_cli import archive, picture, sagewiz  # noqa: F401 - the same small model

pytestmark = pytest.mark.usefixtures("float32_inference")  # answers compared at 1e-5 (see conftest)
SAGEWIZ = str(Path(sys.executable).with_name("sagewiz"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_serving(home: Path, *args) -> tuple[subprocess.Popen, str]:
    """`sagewiz serve …` in the background, and the URL it prints on stdout once it serves."""
    env = {**os.environ, "SAGEWIZ_HOME": str(home)}
    process = subprocess.Popen([SAGEWIZ, "serve", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, env=env)
    url = process.stdout.readline().strip()
    if not url:
        process.wait(timeout=30)
        pytest.fail(f"serve printed no URL: {process.stderr.read()}")
    return process, url


def invoke(url: str, body: bytes) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def endpoint_record(home: Path):
    with Ledger(home / "ledger.sqlite3") as ledger:
        (record,) = [r for r in ledger.resources(include_deleted=True) if r.kind == "endpoint"]
        return record


def test_serve_answers_on_its_port_is_in_the_ledger_and_ctrl_c_deletes_it(tmp_path, archive):
    home, port = tmp_path / "home", free_port()
    process, url = start_serving(home, archive, "--port", port)
    try:
        assert url == f"http://127.0.0.1:{port}"
        status, answer = invoke(url, picture(tmp_path / "p.png", 1).read_bytes())
        assert status == 200 and len(answer["prediction"]) == 3
        expected = json.loads(sagewiz(home, "predict", archive, tmp_path / "p.png", "--json").stdout)["pictures"][0]["prediction"]
        assert answer["prediction"] == pytest.approx(expected, abs=1e-5)

        record = endpoint_record(home)
        assert record.state == "active" and record.arn_or_url == url and process_exists(record.pid)
        listed = json.loads(sagewiz(home, "resources", "--json").stdout)
        assert [(r["kind"], r["where"]) for r in listed] == [("endpoint", url)]
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "stopped and deleted" in err and "Traceback" not in err
    after = endpoint_record(home)
    assert after.state == "deleted" and not process_exists(record.pid)
    assert json.loads(sagewiz(home, "resources", "--json").stdout) == []


def test_cleanup_stops_a_served_endpoint_and_the_foreground_says_so(tmp_path, archive):
    home = tmp_path / "home"
    process, url = start_serving(home, archive)
    try:
        pid = endpoint_record(home).pid
        cleaned = sagewiz(home, "cleanup", "--yes")
        assert cleaned.returncode == 0, cleaned.stderr
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "deleted by sagewiz cleanup" in err
    assert not process_exists(pid) and endpoint_record(home).state == "deleted"


def test_a_port_in_use_or_a_bad_model_is_said_clearly(tmp_path, archive):
    home = tmp_path / "home"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = sagewiz(home, "serve", archive, "--port", taken.getsockname()[1], timeout=120)
    assert busy.returncode == 1 and "Can't listen on 127.0.0.1" in busy.stderr and "Traceback" not in busy.stderr
    assert endpoint_record(home).state != "active"
    for args, says in ((["no-such-model"], "no model file"), ([archive, "--port", "99999"], "is not a port")):
        result = sagewiz(home, "serve", *args)
        assert result.returncode == 1 and says in result.stderr and "Traceback" not in result.stderr


def test_a_server_cleanup_stopped_between_two_looks_is_not_called_dead(monkeypatch):
    """The foreground looks at the record, then at the server's process. A cleanup in between
    marks the endpoint and stops its server: the foreground must not say the server stopped by
    itself (a fresh-clone CI run caught it saying so, exit 1, when cleanup marked it only after)."""
    from types import SimpleNamespace

    from sagewiz.core import processes
    from sagewiz.tui.commands import serve as serve_command

    class Ledger:  # the first look saw it serving; cleanup marked it and stopped it just after
        looks = 0

        def find(self, *_):
            Ledger.looks += 1
            return SimpleNamespace(pid=12345, state="deleting" if Ledger.looks >= 2 else "active")

    monkeypatch.setattr(processes, "process_exists", lambda pid: False)
    monkeypatch.setattr(serve_command, "WATCH_EVERY_S", 0.01)
    assert serve_command._wait_while_serving(Ledger(), "e") == "deleted"

    class Never(Ledger):
        def find(self, *_):
            return SimpleNamespace(pid=12345, state="active")

    assert serve_command._wait_while_serving(Never(), "e") == "died"


def test_cleanup_marks_an_endpoint_as_being_deleted_before_it_stops_its_server(tmp_path, monkeypatch):
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.backend import LocalBackend

    backend = LocalBackend(tmp_path / "home", Ledger(tmp_path / "ledger.sqlite3"))
    record = backend.ledger.intend("local", "endpoint", "e")
    record = backend.ledger.update(record.id, state="active", pid=12345, arn_or_url="http://127.0.0.1:1")
    seen_when_stopped = []

    class Server:
        def stop(self):
            seen_when_stopped.append(backend.ledger.get(record.id).state)

    monkeypatch.setattr(backend, "_endpoint", lambda _: Server())
    backend.delete(record)
    assert seen_when_stopped == ["deleting"] and backend.ledger.get(record.id).state == "deleted"
