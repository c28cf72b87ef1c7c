"""``map`` on worker threads, in input order, with bounded memory: what packing, checking and
predicting thousands of pictures share.

Pillow, hashlib and file reads release the GIL, so threads scale across cores for picture work
without pickling pictures between processes.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, window: int = 64) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, yielding results in input order with at most
    ``window`` per worker in flight, so memory stays bounded however long the list. When the
    caller stops early (Ctrl-C, an error, ``break``), what is queued is cancelled rather than
    waited for: only the pictures already being worked on finish."""
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sagewiz-worker")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
