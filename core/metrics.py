"""Metrics in the Image Classification algorithm's log lines: the same on SageMaker (CloudWatch)
and on the local engine, so both backends parse them here."""

from __future__ import annotations

import re

# The algorithm's per-epoch lines, as they appear in CloudWatch (tabs arrive escaped as #011):
#   Epoch[3] Train-accuracy=0.912500   Epoch[3] Validation-top_k_accuracy_5=0.990000
#   Epoch[3] Train-cross-entropy=0.25  Epoch[3] Time cost=12.345
_METRIC = re.compile(r"Epoch\[(\d+)\]\s+(Train|Validation)-([A-Za-z0-9_\-]+)=([-+]?[\d.]+(?:[eE][-+]?\d+)?)")


def metrics_from_log_line(line: str) -> list[tuple[int, str, float]]:
    """The (epoch, metric name, value) pairs in one log line, named like SageMaker's metric
    definitions: ``train:accuracy``, ``validation:accuracy``, ``validation:top_k_accuracy_5``…"""
    found = []
    for epoch, split, name, value in _METRIC.findall(line.replace("#011", "\t")):
        try:
            found.append((int(epoch), f"{split.lower()}:{name.replace('-', '_')}", float(value)))
        except ValueError:
            continue
    return found
