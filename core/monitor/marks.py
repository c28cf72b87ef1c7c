"""Which of the listed things sagewiz made: what its ledger recorded (``core/ledger.py``), or what
carries its tag ``sagewiz:managed=true`` (:data:`~sagewiz.core.aws.training.MANAGED_TAG`, put on
everything sagewiz creates, so a lost ledger doesn't turn sagewiz's jobs into strangers).

Tags cost calls, so they are asked only about names neither the ledger nor an earlier refresh
has settled: training jobs and endpoints with one Search per kind (it returns only the tagged
ones), tuning jobs with ListTags each (there are few). sagewiz makes no batch transform jobs and
no notebook instances: those are sagewiz's only if the ledger says so. When the tags may not be
read, the ledger alone decides and the section says so.
"""

from __future__ import annotations

import threading
from typing import Iterable

from sagewiz.core.aws.training import MANAGED_TAG
from sagewiz.core.ledger import Ledger
from sagewiz.core.monitor.calls import Reader, SectionFailed
from sagewiz.core.monitor.model import ENDPOINT, TRAINING, TUNING

_SEARCHED = {TRAINING: "TrainingJob", ENDPOINT: "Endpoint"}
_SEARCH_NAME = {TRAINING: "TrainingJobName", ENDPOINT: "EndpointName"}


class Marks:
    """``ours(reader, kind, [(name, arn), …])`` → the names sagewiz made, remembered across refreshes."""

    def __init__(self, ledger: Ledger | None):
        self.ledger = ledger
        self._settled: dict[tuple[str, str], set[str]] = {}  # (region, kind) → names whose mark is known
        self._tagged: dict[tuple[str, str], set[str]] = {}
        self._unread: dict[tuple[str, str], str] = {}  # why the tags couldn't be read, said on every refresh
        self._lock = threading.Lock()

    def recorded(self, region: str, kind: str) -> set[str]:
        """The names of ``kind`` the ledger has in ``region`` (deleted ones too: a stopped job it
        cleaned up still lists in SageMaker, and is still sagewiz's)."""
        if self.ledger is None:
            return set()
        return {r.name for r in self.ledger.resources(backend="aws") if r.kind == kind and r.region == region}

    def ours(self, reader: Reader, kind: str, listed: Iterable[tuple[str, str]]) -> set[str]:
        listed = list(listed)
        key = (reader.region, kind)
        recorded = self.recorded(reader.region, kind)
        with self._lock:
            unsettled = [(n, a) for n, a in listed if n not in recorded and n not in self._settled.get(key, set())]
        if unsettled and kind in _SEARCHED:
            self._search(reader, kind, key, [n for n, _ in unsettled])
        elif unsettled and kind == TUNING:
            self._list_tags(reader, key, unsettled)
        with self._lock:
            tagged = self._tagged.get(key, set())
            if key in self._unread:
                reader.notes.append(self._unread[key])
        return {n for n, _ in listed if n in recorded or n in tagged}

    def _search(self, reader: Reader, kind: str, key: tuple[str, str], names: list[str]) -> None:
        expression = {"Filters": [{"Name": f"Tags.{MANAGED_TAG[0]}", "Operator": "Equals", "Value": MANAGED_TAG[1]}]}
        found: set[str] = set()
        try:
            token = None
            while True:
                answer = reader.call("search", Resource=_SEARCHED[kind], SearchExpression=expression, MaxResults=100,
                                     **({"NextToken": token} if token else {}))
                for result in answer.get("Results", []):
                    record = result.get(_SEARCHED[kind], {})
                    tags = {t.get("Key"): t.get("Value") for t in record.get("Tags", [])}
                    if tags.get(MANAGED_TAG[0]) == MANAGED_TAG[1]:  # said again: a Search filter is a request, not a promise
                        found.add(record.get(_SEARCH_NAME[kind], ""))
                token = answer.get("NextToken")
                if not token:
                    break
        except SectionFailed as failure:
            if failure.throttled:
                raise  # slow down; ask again next time
            with self._lock:
                self._unread[key] = _unread(failure, "sagemaker:Search")
        with self._lock:
            self._tagged.setdefault(key, set()).update(found)
            self._settled.setdefault(key, set()).update(names)

    def _list_tags(self, reader: Reader, key: tuple[str, str], unsettled: list[tuple[str, str]]) -> None:
        def tags_of(entry: tuple[str, str]) -> tuple[str, bool]:
            name, arn = entry
            tags = {t.get("Key"): t.get("Value") for t in reader.call("list_tags", ResourceArn=arn).get("Tags", [])}
            return name, tags.get(MANAGED_TAG[0]) == MANAGED_TAG[1]

        try:
            answers = reader.each(tags_of, unsettled)
        except SectionFailed as failure:
            if failure.throttled:
                raise
            with self._lock:
                self._unread[key] = _unread(failure, "sagemaker:ListTags")
            answers = [(name, False) for name, _ in unsettled]
        with self._lock:
            self._tagged.setdefault(key, set()).update(name for name, tagged in answers if tagged)
            self._settled.setdefault(key, set()).update(name for name, _ in answers)


def _unread(failure: SectionFailed, right: str) -> str:
    why = f"{failure.missing_right or right} is not allowed" if failure.missing_right else failure.error.message
    return f"sagewiz's tags couldn't be read ({why}): only what sagewiz's own record lists is marked as sagewiz's."

