"""How the monitor asks AWS: every call of a section goes through one :class:`Reader`, which
paginates, remembers Describe answers, notices throttling and turns a refusal into the name of
the right that is missing.

A section's refresh is all or nothing: when a call fails after botocore's few retries, the
section raises :class:`SectionFailed` and keeps what its last good refresh read (the monitor
does that); the Describe answers it got before failing stay cached, so the next try costs less.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, TypeVar

from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.errors import CredentialsError, PermissionDeniedError, WizardError

T = TypeVar("T")
R = TypeVar("R")

THROTTLING_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
PAGE_SIZE = 100  # the most SageMaker's List calls return at once: fewest calls


class SectionFailed(Exception):
    """A section couldn't be read this time: ``error`` says why in words, ``missing_right`` names
    the refused IAM action, ``throttled`` says AWS asked to slow down."""

    def __init__(self, error: WizardError, *, missing_right: str | None = None, throttled: bool = False):
        super().__init__(error.message)
        self.error, self.missing_right, self.throttled = error, missing_right, throttled


class DescribeCache:
    """Describe answers by (region, kind, name), each with the version it describes (the list
    call's LastModifiedTime, or "final" for what never changes): asked again only when the
    version changes, so a finished job is described once."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str], version: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._answers.get(key)
        return found[1] if found and found[0] == version else None

    def put(self, key: tuple[str, str, str], version: str, answer: dict[str, Any]) -> None:
        with self._lock:
            self._answers[key] = (version, answer)

    def __len__(self) -> int:
        return len(self._answers)


@dataclass
class Reader:
    """One section's way to AWS in one region: ``client`` is that region's SageMaker client."""

    client: Any
    region: str
    now: float
    since: datetime  # jobs created before this (and finished) are not listed
    cache: DescribeCache
    pool: Executor
    prices: Any  # PriceBook
    marks: Any  # Marks
    profile: str | None = None  # named in the hint of a sign-in error
    slowed_down: bool = False
    notes: list[str] = field(default_factory=list)

    def call(self, method: str, *, client: Any = None, **kwargs: Any) -> dict[str, Any]:
        """``client.method(**kwargs)``; a failure raises SectionFailed (CredentialsError as itself:
        without credentials no section can be read, and the person must sign in)."""
        client = client or self.client
        operation = client.meta.method_to_api_mapping.get(method, method)
        try:
            with translated(f"read {operation} in {self.region}", profile=self.profile):
                answer = getattr(client, method)(**kwargs)
        except CredentialsError:
            raise
        except WizardError as error:
            code = error_code(error)
            throttled = code in THROTTLING_CODES
            self.slowed_down |= throttled
            right = f"{client.meta.service_model.signing_name}:{operation}" if isinstance(error, PermissionDeniedError) else None
            raise SectionFailed(error, missing_right=right, throttled=throttled) from error
        if answer.get("ResponseMetadata", {}).get("RetryAttempts", 0):
            self.slowed_down = True  # got through, but only after botocore waited and retried
        return answer

    def pages(self, method: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every entry of a paginated List call, ``PAGE_SIZE`` per call."""
        token = None
        while True:
            answer = self.call(method, MaxResults=PAGE_SIZE, **kwargs, **({"NextToken": token} if token else {}))
            yield from answer.get(key, [])
            token = answer.get("NextToken")
            if not token:
                return

    def describe(self, kind: str, name: str, version: str, method: str, **kwargs: Any) -> dict[str, Any]:
        """A Describe answer, from the cache while ``version`` is the one described."""
        key = (self.region, kind, name)
        answer = self.cache.get(key, version)
        if answer is None:
            answer = self.call(method, **kwargs)
            answer.pop("ResponseMetadata", None)
            self.cache.put(key, version, answer)
        return answer

    def each(self, work: Callable[[T], R], things: Iterable[T]) -> list[R]:
        """``work`` on every thing, several at once (Describe calls are independent); the first
        failure is raised once all have finished, so every answer that came is cached."""
        futures = [self.pool.submit(work, thing) for thing in things]
        results, failure = [], None
        for future in futures:
            try:
                results.append(future.result())
            except (SectionFailed, CredentialsError) as error:
                failure = failure or error
        if failure is not None:
            raise failure
        return results


def version_of(summary: dict[str, Any]) -> str:
    """What says a listed thing changed since it was described: its LastModifiedTime."""
    return str(summary.get("LastModifiedTime") or summary.get("CreationTime") or "")
