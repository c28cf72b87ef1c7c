"""``sagewiz serve MODEL [--port P]``: the local endpoint for any model archive, in the foreground.

The endpoint is the local backend's own (``LocalBackend.deploy``: the same server process, recorded
in the ledger before it starts), so ``sagewiz resources`` lists it and ``sagewiz cleanup`` can stop
it; Ctrl-C here deletes it. Exit status: 0 when it was stopped (Ctrl-C, or by ``sagewiz cleanup``),
1 for an error or when the server stopped by itself.
"""

from __future__ import annotations

import argparse
import signal
import time

from rich.markup import escape

from sagewiz.core.errors import InputError

WATCH_EVERY_S = 0.5  # how often the foreground checks that its server still runs


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model on this computer (127.0.0.1) with SageMaker's inference protocol, until Ctrl-C",
        description="Start the local endpoint for MODEL (a model.tar.gz trained here or on SageMaker, an s3:// URI or a "
        "training job's name) on 127.0.0.1 and keep it in the foreground: POST a JPEG or PNG to /invocations and it "
        "answers {\"prediction\": [...]}, as a SageMaker endpoint does. It is recorded like any endpoint "
        "(`sagewiz resources`); Ctrl-C stops and deletes it.",
    )
    parser.add_argument("model", metavar="MODEL", help="a model.tar.gz, an s3:// URI or a training job")
    parser.add_argument("--port", default="0", help="the port on 127.0.0.1 (default 0: any free one)")
    parser.add_argument("--name", default="", help="the endpoint's name (default: sagewiz-serve-<8 letters>)")
    parser.add_argument("--region", default="", help="AWS region (a SageMaker job, an s3:// model)")
    parser.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE or 'default')")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from uuid import uuid4

    from sagewiz.core.backend import EndpointSpec
    from sagewiz.core.backends import open_backend
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.backend import CPU, uri_of
    from sagewiz.core.model.archive import read_info
    from sagewiz.core.model.find import find_model
    from sagewiz.tui.console import transfer_bar, err_console

    port = _port(args.port)
    name = args.name.strip() or f"sagewiz-serve-{uuid4().hex[:8]}"
    with Ledger() as ledger:
        with transfer_bar("Downloading the model") as downloaded:
            found = find_model(args.model, ledger=ledger, region=args.region or None, profile=args.profile,
                               endpoints=False, progress=downloaded)
        info = read_info(found.path, class_names=found.class_names)
        local = open_backend("local", ledger=ledger)
        stop_on_signals()
        try:
            err_console.print(f"Starting the endpoint {escape(name)} for {escape(found.described)}…")
            endpoint = local.deploy(EndpointSpec(name, uri_of(found.path), CPU, port=port, class_names=info.class_names
                                                 if info.class_names_known else ()))
            _say_how_to_use(err_console, endpoint.url, info)
            ended = _wait_while_serving(ledger, name)
        except KeyboardInterrupt:
            ended = "stopped"
        finally:
            from sagewiz.core.local.endpoint import server_in

            record = ledger.find("local", "endpoint", name)
            if record is not None and record.state != "deleted":
                local.delete(record)  # stops the server (proven to be this one) and marks it deleted
            leftover = server_in(local.endpoint_dir(name))  # Ctrl-C while it started: not recorded with its pid yet
            if leftover is not None:
                leftover.stop()
    if ended == "died":
        err_console.print(f"[bold red]The endpoint's server stopped by itself.[/] Its log was in "
                          f"{escape(str(local.endpoint_dir(name)))}/endpoint.log; serve the model again.")
        return 1
    err_console.print(f"The endpoint {escape(name)} was {'deleted by sagewiz cleanup' if ended == 'deleted' else 'stopped and deleted'}; "
                      "nothing is left running.")
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise InputError(f"--port {text!r} is not a port (0–65535).", hint="Give a number such as --port 8080, or 0 for any free port.") from None
    return port


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and a `kill` (SIGTERM) stop the endpoint, instead of leaving it running:
    SIGINT is taken explicitly, since a shell starts a background command with it ignored."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)


def _say_how_to_use(console, url: str, info) -> None:
    names = ", ".join(info.class_names[:10]) + (" …" if len(info.class_names) > 10 else "")
    known = "" if info.class_names_known else " (unknown: SageMaker keeps no names in its archive)"
    console.print(f"[bold green]Serving[/] ResNet-{info.num_layers} ({info.num_classes} classes, "
                  f"{'x'.join(map(str, info.image_shape))}) at [bold]{url}[/]")
    console.print(f"  probabilities in label order: {escape(names)}{known}")
    console.print(f"  try: curl -s -H 'Content-Type: image/jpeg' --data-binary @picture.jpg {url}/invocations")
    console.print("  Ctrl-C stops it.")
    print(url, flush=True)  # stdout: the URL alone, for a script that started it


def _wait_while_serving(ledger, name: str) -> str:
    """Until the endpoint is deleted elsewhere (``sagewiz cleanup``: "deleted") or its server stops
    by itself ("died"); Ctrl-C raises KeyboardInterrupt out of here."""
    from sagewiz.core.processes import process_exists

    def being_deleted(record) -> bool:
        return record is None or record.state in ("deleting", "deleted")

    while True:
        time.sleep(WATCH_EVERY_S)
        record = ledger.find("local", "endpoint", name)
        if being_deleted(record):
            return "deleted"
        if not record.pid or not process_exists(record.pid):
            # cleanup marks the endpoint "deleting" before it stops the server: a look after the
            # server is gone sees the mark if cleanup stopped it, even one made since the last look
            return "deleted" if being_deleted(ledger.find("local", "endpoint", name)) else "died"
