"""What the wizard has been told so far, and the answers kept as next run's defaults.

The screens only read and fill a :class:`WizardState`; going back keeps every answer. On the way
forward the answers worth remembering (backend, folder, settings) are saved beside the ledger,
so the next ``sagewiz`` starts where this one left off.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULTS_FILE = "wizard-defaults.json"
REMEMBERED = ("backend", "region", "data_dir", "overrides", "tune_jobs", "keep_endpoint", "endpoint_instance")


def _home() -> Path:
    from sagewiz.core.ledger import default_ledger_path

    return default_ledger_path().parent


@dataclass
class WizardState:
    backend: str = "local"
    region: str = ""  # the AWS region chosen on the Where step ("" on the local backend)
    training_instance: str = ""  # what the region recommends, for the time and cost estimate
    training_price: float | None = None
    endpoint_instance: str = ""  # the one chosen for the endpoint ("" = the region's recommendation)
    data_dir: str = ""
    overrides: dict[str, str] = field(default_factory=dict)  # hyperparameters the user changed
    tune_jobs: int = 0
    keep_endpoint: bool = False
    report: Any = None  # the DatasetReport of data_dir, once checked
    suggested: Any = None  # Hyperparameters suggested for that dataset
    packed: Any = None  # its PreparedData, packed on the Pictures step
    continue_from: str = ""  # incremental training: the earlier job whose model learns on
    resume_run: str | None = None  # a run id to continue, from the welcome screen
    run_id: str | None = None  # the ledger's run being walked (the deploy step finishes it)
    trained: Any = None  # the TrainedModel the training step ended with
    summary: dict | None = None  # what the journey returned, after the test
    # the settings as the answers kept from last time had them (not saved again): the Settings step
    # and the plain questions say which values are these rather than suggestions
    last_time: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.last_time = self.last_time or {**self.overrides, "tune_jobs": str(self.tune_jobs)}

    def yours(self, name: str, value: str, suggestion: str) -> str:
        """How a setting that is not the suggestion is marked, on the Settings step and in the plain
        questions: 'yours from last time; suggested 20' (only 'suggested 20' for one typed now)."""
        suggested = f"suggested {suggestion}" if suggestion else "suggested: empty"
        return f"yours from last time; {suggested}" if self.last_time.get(name) == value else suggested

    @classmethod
    def load(cls) -> WizardState:
        """The last run's answers, or fresh defaults when there are none (or they can't be read)."""
        try:
            saved = json.loads((_home() / DEFAULTS_FILE).read_text())
        except (OSError, ValueError):
            return cls()
        known = {k: saved[k] for k in REMEMBERED if k in saved}
        try:
            return cls(**known)
        except TypeError:
            return cls()

    def save(self) -> None:
        """Keep the answers for next time; a folder that can't be written is not worth a crash."""
        try:
            home = _home()
            home.mkdir(parents=True, exist_ok=True)
            partial = home / f"{DEFAULTS_FILE}.{os.getpid()}.partial"
            partial.write_text(json.dumps({k: getattr(self, k) for k in REMEMBERED}, indent=1))
            os.replace(partial, home / DEFAULTS_FILE)
        except OSError:
            pass
