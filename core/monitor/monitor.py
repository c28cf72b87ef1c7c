"""The monitor: refreshes a snapshot of everything SageMaker runs in a region (or in every region
the account has enabled), or of what the local backend runs, without hammering the API.

* **Few calls.** Lists are paginated 100 at a time; Describe is asked only for what a List answer
  doesn't say, and remembered until the thing's LastModifiedTime changes (a finished job is
  described once, an endpoint configuration once); prices and sagewiz's tags are asked once.
* **Backing off.** Calls get a few quick retries (botocore's adaptive mode, 3 attempts instead of
  the wizard's 8); a section still throttled after them keeps its last good items, is marked not
  fresh, and the next refresh waits twice as long (up to :data:`MAX_REFRESH_S`), back to
  :data:`REFRESH_S` after a calm one. Every section keeps when it was last updated.
* **Least privilege.** A refused listing fails only its own section, which names the missing
  right; the others fill as usual. Missing credentials fail the whole refresh (CredentialsError).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sagewiz.core.ledger import Ledger
from sagewiz.core.monitor import aws_hosting, aws_jobs
from sagewiz.core.monitor.calls import DescribeCache, Reader, SectionFailed
from sagewiz.core.monitor.marks import Marks
from sagewiz.core.monitor.model import ENDPOINT, KIND_TITLES, KINDS, NOTEBOOK, TRAINING, TRANSFORM, TUNING, Section, Snapshot
from sagewiz.core.monitor.prices import PriceBook

REFRESH_S = 10.0
"""Seconds between two refreshes while AWS answers calmly."""
MAX_REFRESH_S = 300.0
"""The longest wait between refreshes while AWS keeps throttling."""
ATTEMPTS = 3
"""botocore attempts per call (adaptive retries) before a section gives up until the next refresh."""
WINDOW_DAYS = 7
"""Finished jobs created longer ago than this are not listed (running ones always are)."""
WORKERS = 8

READERS: dict[str, Callable[[Reader], list]] = {TRAINING: aws_jobs.training_jobs, TUNING: aws_jobs.tuning_jobs,
                                                TRANSFORM: aws_jobs.transform_jobs, ENDPOINT: aws_hosting.endpoints,
                                                NOTEBOOK: aws_hosting.notebook_instances}


class Monitor:
    """Snapshots of one backend: ``Monitor("aws", region=…, profile=…)`` or ``Monitor("local")``.
    :meth:`refresh` reads (only the given sections, or all); :meth:`settled` is one snapshot for a
    script, retrying throttled sections a few times. Creating it calls nothing remote."""

    def __init__(self, backend: str = "aws", *, region: str | None = None, profile: str | None = None,
                 regions: Iterable[str] | None = None, all_regions: bool = False, ledger: Ledger | None = None,
                 session: Any = None, live_prices: bool = True, window_days: float = WINDOW_DAYS,
                 refresh_s: float = REFRESH_S, clock: Callable[[], float] = time.time):
        from sagewiz.core.errors import InputError

        if backend not in ("aws", "local"):
            raise InputError(f"There is no backend called {backend!r}.", hint="Choose one of: local, aws.")
        self.backend, self.ledger, self.clock = backend, ledger, clock
        self.window = timedelta(days=window_days)
        self.refresh_s, self.next_refresh_s = refresh_s, refresh_s
        self._sections: dict[tuple[str, str], Section] = {}
        self._slow_refreshes = 0
        self._calls, self._count_lock = 0, threading.Lock()
        self._notes: list[str] = []
        self.session = None
        self._regions = tuple(regions or ())
        self._all_regions = all_regions
        if backend == "aws":
            from sagewiz.core.aws.session import AwsSession

            self.session = session or AwsSession(region=region, profile=profile, max_attempts=ATTEMPTS)
            self.session.boto.events.register("before-call", self._count_call)  # before any client exists
            self.prices = PriceBook(self.session, live=live_prices)
            self.marks = Marks(ledger)
            self.cache = DescribeCache()
            self._sections_pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="monitor-section")
            self._describe_pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="monitor-describe")

    # ---- where ------------------------------------------------------------------------------
    @property
    def regions(self) -> tuple[str, ...]:
        """The regions the snapshot covers ("local" on the local backend); asks AWS once for the
        enabled regions with ``all_regions``."""
        if self.backend == "local":
            return ("local",)
        if not self._regions:
            if self._all_regions:
                from sagewiz.core.monitor.regions import enabled_regions

                self._regions, note = enabled_regions(self.session)
                self._notes += [note] if note else []
            else:
                self._regions = (self.session.region,)
        return self._regions

    def _count_call(self, **_: Any) -> None:
        with self._count_lock:
            self._calls += 1

    # ---- refreshing ----------------------------------------------------------------------------
    def refresh(self, only: Iterable[tuple[str, str]] | None = None) -> Snapshot:
        """Read the sections (every one, or ``only`` these (region, kind) pairs) and return the
        snapshot of all of them. Raises CredentialsError (and LedgerError locally); every other
        failure is kept in its section."""
        now = self.clock()
        with self._count_lock:
            self._calls = 0
        regions = self.regions
        wanted = set(only) if only is not None else None
        if self.backend == "local":
            self._refresh_local(now)
        else:
            pairs = [(r, k) for r in regions for k in KINDS if wanted is None or (r, k) in wanted]
            clients = {r: self.session.client("sagemaker", r) for r in {r for r, _ in pairs}}  # made here, one thread
            futures = [self._sections_pool.submit(self._read, clients[r], r, k, now) for r, k in pairs]
            for (region, kind), future in zip(pairs, futures):
                self._sections[(region, kind)] = future.result()
            self._pace([self._sections[p] for p in pairs])
        return self.snapshot(now)

    def reader(self, region: str, now: float | None = None, client: Any = None) -> Reader:
        """A Reader for ``region`` sharing this monitor's caches, prices and marks (aws only)."""
        now = self.clock() if now is None else now
        return Reader(client=client or self.session.client("sagemaker", region), region=region, now=now,
                      since=datetime.fromtimestamp(now, timezone.utc) - self.window, cache=self.cache,
                      pool=self._describe_pool, prices=self.prices, marks=self.marks,
                      profile=getattr(self.session, "profile", None))

    def _read(self, client: Any, region: str, kind: str, now: float) -> Section:
        reader = self.reader(region, now, client)
        before = self._sections.get((region, kind), Section(region, kind))
        try:
            items = READERS[kind](reader)
        except SectionFailed as failure:
            return replace(before, fresh=False, slowed_down=reader.slowed_down or failure.throttled,
                           problem=_problem(kind, failure), missing_right=failure.missing_right, notes=tuple(reader.notes))
        return Section(region, kind, _in_order(items), updated_at=now, fresh=True, slowed_down=reader.slowed_down,
                       notes=tuple(dict.fromkeys(reader.notes)))

    def _refresh_local(self, now: float) -> None:
        from sagewiz.core.monitor.local import REGION, local_items

        ledger = self.ledger or Ledger()
        for kind, items in local_items(ledger, now).items():
            self._sections[(REGION, kind)] = Section(REGION, kind, _in_order(items), updated_at=now, fresh=True)

    def _pace(self, read: list[Section]) -> None:
        """Twice the wait after a refresh AWS throttled, back to the usual after a calm one."""
        self._slow_refreshes = self._slow_refreshes + 1 if any(s.slowed_down for s in read) else 0
        self.next_refresh_s = min(self.refresh_s * 2 ** self._slow_refreshes, MAX_REFRESH_S)

    def snapshot(self, now: float | None = None) -> Snapshot:
        """What the sections hold now, without asking AWS (tuning jobs summed from their trials)."""
        now = self.clock() if now is None else now
        order = {kind: i for i, kind in enumerate(KINDS)}
        sections = sorted(self._sections.values(), key=lambda s: (s.region, order.get(s.kind, 99)))
        trials: dict[tuple[str, str], list] = {}
        for section in sections:
            for item in section.items if section.kind == TRAINING else ():
                if item.parent:
                    trials.setdefault((item.region, item.parent), []).append(item)
        sections = [replace(s, items=tuple(aws_jobs.with_trials(t, trials.get((t.region, t.name), ())) for t in s.items))
                    if s.kind == TUNING and s.region != "local" else s for s in sections]
        notes = list(self._notes)
        if self.backend == "aws":
            notes.append(f"Finished jobs created more than {self.window.days} days ago are not listed.")
        return Snapshot(backend=self.backend, regions=self.regions, sections=tuple(sections), taken_at=now,
                        api_calls=self._calls, next_refresh_s=self.next_refresh_s if self.backend == "aws" else self.refresh_s,
                        notes=tuple(notes))

    def settled(self, attempts: int = 4, sleep: Callable[[float], None] = time.sleep, first_wait_s: float = 1.0) -> Snapshot:
        """One snapshot for a script: refresh, then retry the sections AWS throttled, waiting
        ``first_wait_s`` and twice as long each time, ``attempts`` refreshes in all. What is still
        throttled then is in the snapshot as not fresh, saying why."""
        snapshot, wait = self.refresh(), first_wait_s
        for _ in range(attempts - 1):
            throttled = [(s.region, s.kind) for s in snapshot.sections if not s.fresh and s.slowed_down]
            if not throttled:
                break
            sleep(wait)
            wait = min(wait * 2, MAX_REFRESH_S)
            snapshot = self.refresh(only=throttled)
        return snapshot

    def close(self) -> None:
        """Stop the worker threads (a monitor is not used after this)."""
        if self.backend == "aws":
            self._sections_pool.shutdown(wait=False)
            self._describe_pool.shutdown(wait=False)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _in_order(items: list) -> tuple:
    """What bills first, then the most recent first."""
    return tuple(sorted(items, key=lambda i: (not i.billing, -(i.started.timestamp() if i.started else 0.0), i.name)))


def _problem(kind: str, failure: SectionFailed) -> str:
    what = KIND_TITLES[kind].lower()
    if failure.missing_right:
        return f"Not allowed to list the {what}: your AWS identity lacks {failure.missing_right}."
    if failure.throttled:
        return f"AWS asked sagewiz to slow down while listing the {what} (throttling); it will ask again later."
    return failure.error.message
