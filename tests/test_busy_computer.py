"""A beginner's computer is never idle: training on it must not stall beside a browser or a second job.

torch's OpenMP threads spin while they wait unless told to sleep, and two spinning processes on
the same cores slowed a training step about fifty times (docs/benchmarks.md, "A busy computer").
"""

from __future__ import annotations

import os
import subprocess
import sys

_SHOW_POLICY = "import sagewiz.core.local.resnet, os; print(os.environ.get('OMP_WAIT_POLICY'))"


def _policy_seen_by_torch(**env) -> str:
    base = {name: value for name, value in os.environ.items() if name != "OMP_WAIT_POLICY"}
    result = subprocess.run([sys.executable, "-c", _SHOW_POLICY], env={**base, **env}, capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout.strip()


def test_the_engine_s_threads_sleep_while_they_wait_instead_of_spinning():
    assert _policy_seen_by_torch() == "PASSIVE"


def test_a_wait_policy_the_user_chose_is_kept():
    assert _policy_seen_by_torch(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
