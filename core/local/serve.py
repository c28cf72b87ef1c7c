"""The local endpoint's server: SageMaker's inference protocol over HTTP, in its own process.

Run as ``python -m sagewiz.core.local.serve --model PATH --port 0 --ready-file FILE``. It speaks
what the Image Classification algorithm's endpoints speak — ``GET /ping``, and ``POST
/invocations`` with an ``image/jpeg``, ``image/png`` or ``application/x-image`` body answered
by ``{"prediction": [p0, p1, …]}`` (probabilities in label order; JSON, or one JSON line for
``Accept: application/jsonlines``) — so code written against it works unchanged on AWS.

Only 127.0.0.1 is ever bound: the endpoint is for this computer, not the network. Once it
listens, ``{"port", "pid", "url", "max_body_bytes"}`` is written atomically to the ready file;
:mod:`sagewiz.core.local.endpoint` starts, talks to and stops it.

The main thread loads and runs the model (:mod:`sagewiz.core.local.batching`), taking whatever
pictures have queued up as one batch: concurrent clients share a forward pass instead of taking
turns. HTTP is served from another thread (:mod:`sagewiz.core.local.http_server`), pictures are
decoded on a few more, and no client can hold the server hostage
(:mod:`sagewiz.core.local.limits`). ``GET /stats`` shows how many batches ran, for tests and
benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

from sagewiz.core.local.batching import Batcher, Stats
from sagewiz.core.local.http_server import HOST, LOG_PREFIX, EndpointServer
from sagewiz.core.local.limits import PixelBudget, ServerLimits
from sagewiz.core.local.pictures import preprocess_for

SHUTDOWN_GRACE_S = 10.0
MODEL_HINT = "Choose the model.tar.gz of a training job that completed (sagewiz resources lists them)."
PILLOW_BLOCK_SIZE = "64m"  # over glibc's largest mmap threshold (32 MB)


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
                                max_body_bytes=int(args.max_body_mb * 1024 * 1024), limits=args.limits,
                                decoders=usable_cores())
    except OSError as error:
        return _fail(f"Can't listen on {HOST}:{args.port} ({error.strerror or error}).",
                     "Choose another port, or 0 for any free one.")
    port = server.server_address[1]
    url = f"http://{HOST}:{port}"
    stopping = threading.Event()

    def serve_http() -> None:
        try:
            server.serve_forever()
        finally:
            if not stopping.is_set():  # it failed: nobody can ask the model any more
                batcher.stop()

    def shut_down() -> None:
        server.shutdown()  # no new connections; those open are still read and answered
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
        server.close(http, SHUTDOWN_GRACE_S)
        if args.ready_file:
            args.ready_file.unlink(missing_ok=True)
        print(f"{LOG_PREFIX}: stopped after {stats.predictions} prediction(s) in {stats.batches} batch(es)",
              file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
