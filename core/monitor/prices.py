"""Prices for the monitor: asked once per region, instance type and usage, from the AWS Pricing
API with the bundled, dated table behind it (:func:`sagewiz.core.aws.preflight.instance_price`,
the same lookup the wizard uses), then kept for the life of the monitor: prices don't change
between two refreshes."""

from __future__ import annotations

import threading
from typing import Any

from sagewiz.core.aws import catalog, preflight
from sagewiz.core.monitor.model import ENDPOINT, NOTEBOOK, TRAINING, TRANSFORM, TUNING

USAGE_OF = {TRAINING: "training", TUNING: "training", ENDPOINT: "hosting", NOTEBOOK: "notebook", TRANSFORM: "transform"}
"""The price list each kind is billed from."""


class PriceBook:
    """``price(region, instance_type, kind)`` → (USD per instance-hour or None, where it came from).
    With ``live=False`` only the bundled table is read (no Pricing API call at all)."""

    def __init__(self, session: Any, *, live: bool = True):
        self.session = session
        self.live = live
        self._known: dict[tuple[str, str, str], tuple[float | None, str]] = {}
        self._lock = threading.Lock()  # two sections asking for one type ask AWS once

    def price(self, region: str, instance_type: str, kind: str) -> tuple[float | None, str]:
        usage = USAGE_OF[kind]
        key = (region, instance_type, usage)
        with self._lock:
            if key not in self._known:
                if not instance_type:
                    self._known[key] = (None, "")
                elif self.live:
                    price, source = preflight.instance_price(self.session, region, instance_type, usage)
                    self._known[key] = (price, catalog.bundled_source(usage) if source == catalog.PRICE_SOURCE_BUNDLED else source)
                else:
                    self._known[key] = (catalog.bundled_price(region, instance_type, usage), catalog.bundled_source(usage))
            return self._known[key]
