"""How many API calls does refreshing a big account cost the monitor, and how long until the first
snapshot? An account of 500 training jobs and 50 endpoints, simulated in moto's server (in this
process), read by ``core.monitor.Monitor`` as ``sagewiz monitor --json`` reads it:

* **first refresh**: from creating the monitor to the first snapshot (every job and endpoint
  described once: the List answers have no instance type);
* **second refresh**: nothing changed (only the List calls: every Describe answer is cached);
* **after 10 jobs moved on**: 10 running jobs change status (their LastModifiedTime), so those
  10 are described again.

Calls are counted per operation with a botocore ``before-call`` hook (retries not included); the
Pricing API is left out (``--bundled-prices``: moto doesn't model it; live prices add one call per
instance type on the first refresh only). moto answers on this machine in milliseconds, where real
AWS takes tens of them per call, so the wall times say more about sagewiz's own work and the call
counts more about AWS. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import docs_section

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
SECTION = "bench_monitor"


def fill(url: str, jobs: int, endpoints: int, running: int) -> None:
    """The account: ``jobs`` training jobs (``running`` of them in progress, a fifth tagged as
    sagewiz's), ``endpoints`` endpoints on their own configuration and model, two notebooks."""
    import monitor_account as account

    sm = account.sagemaker(url)
    for n in range(jobs):
        name = f"job-{n:04d}"
        account.training_job(sm, name, "ml.p3.2xlarge" if n % 2 else "ml.g4dn.xlarge",
                             tags=account.SAGEWIZ_TAG if n % 5 == 0 else ())
        if n < running:
            account.running(name, hours=1 + n % 3)
        else:
            account.finished(name, billable_s=600 + n)
    for n in range(endpoints):
        account.endpoint(sm, f"endpoint-{n:03d}", "ml.m5.large" if n % 2 else "ml.m5.xlarge",
                         tags=account.SAGEWIZ_TAG if n % 5 == 0 else ())
    account.notebook(sm, "tutorial-notebook", started_hours_ago=5)
    account.notebook(sm, "another-notebook", "ml.t3.medium", started_hours_ago=1)


def refresh(monitor, counted: collections.Counter) -> tuple[float, dict[str, int], object]:
    counted.clear()
    started = time.perf_counter()
    snapshot = monitor.refresh()
    return time.perf_counter() - started, dict(counted), snapshot


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    filling = time.perf_counter()
    fill(url, args.jobs, args.endpoints, running=20)
    filling = time.perf_counter() - filling

    import monitor_account as account
    from sagewiz.core.monitor import Monitor

    counted: collections.Counter = collections.Counter()
    started = time.perf_counter()
    monitor = Monitor("aws", region="us-east-1", live_prices=False)
    monitor.session.boto.events.register("before-call", lambda model, **_: counted.update([model.name]))
    first_s, first, snapshot = refresh(monitor, counted)
    to_first = time.perf_counter() - started
    second_s, second, _ = refresh(monitor, counted)
    for n in range(10):
        account.running(f"job-{n:04d}", hours=2)  # status moved on: LastModifiedTime changes
    third_s, third, _ = refresh(monitor, counted)
    monitor.close()
    server.stop()

    items = snapshot.items
    rows = [("first refresh (time to first snapshot)", first, first_s, to_first),
            ("second refresh, nothing changed", second, second_s, None),
            ("after 10 running jobs moved on", third, third_s, None)]
    operations = sorted({op for _, calls, _, _ in rows for op in calls})
    start, end = docs_section.markers(SECTION)
    lines = [start, "## `sagewiz monitor`: API calls per refresh of a big account", "",
             f"Measured {dt.datetime.now():%Y-%m-%d %H:%M} by `benchmarks/bench_monitor.py` on {platform.processor() or platform.machine()} "
             f"({os.cpu_count()} CPUs), against moto's server in the same process: an account of {args.jobs} training jobs "
             f"(20 in progress) and {args.endpoints} endpoints, and 2 notebook instances, filled in {filling:.1f} s. "
             "Reproduce with:", "", "```sh",
             shlex.join([os.path.relpath(sys.executable, REPO), "benchmarks/bench_monitor.py", *argv]), "```", "",
             "| refresh | API calls | wall time (s) |", "|---|---:|---:|"]
    for label, calls, seconds, whole in rows:
        shown = f"{seconds:.2f}" + (f" ({whole:.2f} from creating the monitor)" if whole is not None else "")
        lines.append(f"| {label} | {sum(calls.values())} | {shown} |")
    lines += ["", "Per operation:", "", "| operation | " + " | ".join(label.split(" (")[0] for label, *_ in rows) + " |",
              "|---|" + "---:|" * len(rows)]
    for op in operations:
        lines.append(f"| {op} | " + " | ".join(str(calls.get(op, 0)) for _, calls, _, _ in rows) + " |")
    lines += ["", f"The first snapshot lists {len(items)} things; it bills ${snapshot.cost_per_hour:.2f}/hour now. "
              "Each section is read in its own thread and Describe calls go 8 at a time. Only the first refresh describes "
              "every job and endpoint (and every endpoint configuration, once for good); later ones list (100 a page) and "
              "describe only what changed. One `Search` per kind finds sagewiz's tagged jobs and endpoints, and is asked "
              "again only when a name appears that neither the ledger nor an earlier answer settled. Against real AWS there would be fewer "
              "List calls: moto pages `ListTrainingJobs StatusEquals=InProgress` through every job before "
              "filtering (5 pages here; AWS filters first: 1 page for 20 running jobs), and answers a Search in one page "
              "(AWS pages it by 100).", "", end]
    section = "\n".join(lines) + "\n"
    docs_section.write_section(args.out, section, SECTION)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
