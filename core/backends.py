"""Pick a backend by the name the user typed (``--backend local`` / ``--backend aws``).

Each backend is imported only when asked for: the local one pulls in the training engine's
modules, the aws one boto3, and neither should slow down a command that uses the other.
"""

from __future__ import annotations

from sagewiz.core.backend import Backend
from sagewiz.core.errors import InputError
from sagewiz.core.ledger import Ledger

NAMES = ("local", "aws")


def open_backend(name: str, *, ledger: Ledger | None = None, region: str | None = None,
                 profile: str | None = None) -> Backend:
    """The backend called ``name``; ``region`` and ``profile`` only matter on aws. Creating it
    calls nothing remote. Raises InputError for an unknown name."""
    if name == "local":
        from sagewiz.core.local.backend import LocalBackend

        return LocalBackend(ledger=ledger)
    if name == "aws":
        from sagewiz.core.aws.backend import AwsBackend

        return AwsBackend(ledger=ledger, region=region, profile=profile)
    raise InputError(f"There is no backend called {name!r}.", hint=f"Choose one of: {', '.join(NAMES)}.")


def refused_settings(hyperparameters, backend: str) -> list[tuple[str, str]]:
    """What ``backend`` refuses of settings the algorithm's own rules accept, as (field, message):
    on both, a depth whose network can't be built at image_shape's size (the job would fail once
    started, on SageMaker after billing its instance); on SageMaker, use_pretrained_model=1
    outside the ImageNet networks; on this computer, use_pretrained_model=1 without a pretrained
    network installed for that depth and picture size. Checked before anything is packed,
    uploaded or started. Raises nothing."""
    from sagewiz.core.hyperparams import network_problems

    unbuildable = network_problems(hyperparameters)
    if unbuildable or not hyperparameters.use_pretrained_model:
        return unbuildable  # no pretrained weights exist for a network that can't be built
    if backend != "local":
        from sagewiz.core.hyperparams import sagemaker_pretrained_problems

        return sagemaker_pretrained_problems(hyperparameters)
    from sagewiz.core.model.download import ZOO_FILES
    from sagewiz.core.model.pretrained import find_pretrained

    if find_pretrained(hyperparameters.num_layers, hyperparameters.image_shape_tuple) is not None:
        return []
    depth, shape = hyperparameters.num_layers, hyperparameters.image_shape
    how = (f"`sagewiz pretrained download {depth}` installs ImageNet's" if depth in ZOO_FILES and shape == "3,224,224"
           else f"`sagewiz pretrained add MODEL.tar.gz` installs those of a ResNet-{depth} trained at {shape}")
    return [("use_pretrained_model", f"use_pretrained_model=1 needs a pretrained ResNet-{depth} for {shape} pictures on this "
                                     f"computer, and none is installed: {how}, or set use_pretrained_model=0.")]


def check_settings(hyperparameters, backend: str) -> None:
    """Raise HyperparameterError naming each of :func:`refused_settings`; nothing when there are none."""
    problems = refused_settings(hyperparameters, backend)
    if problems:
        from sagewiz.core.hyperparams import HyperparameterError

        raise HyperparameterError(problems)


def live_resources(ledger: Ledger, only: str | None = None, region: str | None = None) -> list:
    """Everything sagewiz created and hasn't deleted, on every backend (or ``only`` that one),
    refreshed by its backend (jobs that finished meanwhile, a packed copy removed by hand; on aws
    also what is tagged as sagewiz's in ``region``). Where a backend can't be asked (no AWS
    credentials…), what the ledger knows."""
    from sagewiz.core.errors import WizardError

    found = []
    for name in NAMES if only is None else (only,):
        if name != "local" and not ledger.live_resources(backend=name):
            continue  # the local backend is asked anyway: it finds on disk what a lost ledger forgot
        try:
            found += open_backend(name, ledger=ledger, region=region).resources()
        except WizardError:
            found += ledger.live_resources(backend=name)
    return found


# endpoints first (they are what costs money while it waits), then jobs; the storage and the
# role the jobs use go last
_DELETE_ORDER = {"endpoint": 0, "training-job": 1, "tuning-job": 1, "process": 1, "storage": 2, "bucket": 2, "role": 3}


def delete_resources(ledger: Ledger, resources: list):
    """Delete ``resources`` in a safe order, each by its own backend. Yields (resource, None)
    for each one deleted and (resource, WizardError) for each one that couldn't be; one failure
    doesn't stop the others."""
    from sagewiz.core.errors import WizardError

    backends: dict[str, Backend] = {}
    for resource in sorted(resources, key=lambda r: _DELETE_ORDER.get(r.kind, 1)):
        try:
            if resource.backend not in backends:
                backends[resource.backend] = open_backend(resource.backend, ledger=ledger)
            backends[resource.backend].delete(resource)
        except WizardError as error:
            yield resource, error
        else:
            yield resource, None
