"""The model incremental training starts from (``--continue-from``, the wizard's Incremental step).

It is named by the user: a training job of the run's backend, which SageMaker (or the local
engine) reads from where it is, or a model from elsewhere — a job of the other backend, a
``model.tar.gz`` — brought onto this computer (a SageMaker model is downloaded once) and copied
into the run's storage by the upload step. Either way its network is fixed: the number of layers
and the picture size can't change, and it must know as many classes as the pictures have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sagewiz.core.backend import Backend
from sagewiz.core.errors import DatasetError
from sagewiz.core.journey import JourneyEvent, Listener

# What an earlier model fixes: the network and its input can't change when it learns more.
KEPT_FROM_EARLIER = ("num_layers", "image_shape")


@dataclass(frozen=True)
class EarlierModel:
    """The model incremental training starts from: its ``uri`` on this run's backend, or, for one
    from elsewhere (the other backend, a file), the archive ``path`` here that the upload step
    copies into storage; and the settings it fixes."""

    kept: dict[str, str]
    uri: str = ""
    path: Path | None = None


def completed_jobs(ledger) -> list:
    """Training jobs recorded as completed (newest first), on either backend: the models that can learn on."""
    jobs = [r for r in ledger.resources(include_deleted=True) if r.kind == "training-job" and r.state == "completed"]
    return sorted(jobs, key=lambda r: r.created_at, reverse=True)


def earlier_model(backend: Backend, name: str, report, listen: Listener = lambda event: None) -> EarlierModel:
    """The earlier model called ``name``: a training job of this backend, or (when this backend
    has none of that name) a job of the other backend or a model.tar.gz, brought onto this
    computer (a SageMaker model downloaded once). Refuses, as SageMaker does, a model that
    knows another number of classes than the pictures have."""
    from sagewiz.core.errors import InputError, NotFoundError

    try:
        earlier = backend.describe_training(name)
    except NotFoundError:
        earlier = None
    if earlier is not None:
        if not earlier.model_uri:
            raise InputError(f"The training job {name} has no model to continue from ({earlier.status.value}).",
                             hint="Choose a job that completed: `sagewiz resources` lists them.")
        kept = {k: v for k, v in earlier.hyperparameters.items() if k in KEPT_FROM_EARLIER}
        _same_classes(earlier.hyperparameters.get("num_classes"), report, name)
        return EarlierModel(kept, uri=earlier.model_uri)
    from sagewiz.core.model.archive import read_info
    from sagewiz.core.model.find import find_model

    found = find_model(name, ledger=backend.ledger, endpoints=False, progress=lambda done, n: listen(
        JourneyEvent("progress", "check", "model", {"done": done, "total": n})))
    info = read_info(found.path)  # type: ignore[arg-type]  # without endpoints, a model is always a file
    listen(JourneyEvent("note", "check", f"Continuing {found.described}, from {found.path}"))
    _same_classes(info.num_classes, report, name)
    return EarlierModel({"num_layers": str(info.num_layers), "image_shape": ",".join(map(str, info.image_shape))},
                        path=found.path)


def _same_classes(known, report, name: str) -> None:
    if known and int(known) != len(report.classes):
        raise DatasetError(f"The model of {name} tells {known} classes apart, but these pictures have "
                           f"{len(report.classes)} ({', '.join(c.name for c in report.classes)}).",
                           title="Different classes",
                           hint="Continue it with pictures of the same classes, or train a new model.")
