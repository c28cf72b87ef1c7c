"""Asking a model the monitor lists about a picture: an Image Classification endpoint (the same
request an application makes, ``Backend.predict``), or the model of a training job that completed
(downloaded once, answered on this computer), as ``sagewiz predict`` does (core/predict.py).

An endpoint someone else made may serve any model: it is asked only when its model's container is
SageMaker's Image Classification algorithm, whose answer sagewiz knows how to read.
"""

from __future__ import annotations

from typing import Callable

from sagewiz.core.errors import InputError
from sagewiz.core.model.find import FoundModel
from sagewiz.core.monitor.detail import backend_for
from sagewiz.core.monitor.model import ENDPOINT, TRAINING, Item
from sagewiz.core.predict import Predicted, PredictionResult

ALGORITHM = "image-classification"


def can_be_asked(item: Item) -> bool:
    """Whether ``item`` may have a model to ask: an endpoint in service, a completed training job."""
    return (item.kind == ENDPOINT and item.status == "InService") or (item.kind == TRAINING and item.status == "Completed")


def model_to_ask(item: Item, monitor, progress: Callable[[int, int], None] | None = None) -> FoundModel:
    """The model behind ``item``. Raises InputError for anything else (a job still running, an
    endpoint of another algorithm), WizardError when it can't be read or downloaded."""
    from sagewiz.core.model.find import find_model

    if not can_be_asked(item):
        what = "an endpoint in service or a training job that completed"
        raise InputError(f"{item.name} is {item.status or 'not ready'}: there is no model to ask yet.",
                         title="Nothing to ask", hint=f"Pick {what}.")
    backend = backend_for(item, monitor)

    def opener(name: str, **_):
        if name != item.backend:
            from sagewiz.core.errors import NotFoundError

            raise NotFoundError(f"{item.name} is not on {name}.")
        return backend

    if item.kind == TRAINING:
        return find_model(item.name, ledger=monitor.ledger, region=item.region, endpoints=False, progress=progress,
                          open_backend=opener)
    if item.backend == "aws":
        _check_algorithm(item, monitor)
    if item.made_by_sagewiz and monitor.ledger is not None:
        try:
            return find_model(item.name, ledger=monitor.ledger, region=item.region, open_backend=opener)
        except InputError:
            pass  # not in this ledger (found by its tag): asked without class names
    return FoundModel(f"the endpoint {item.name}", backend=backend, endpoint=item.name)


def _check_algorithm(item: Item, monitor) -> None:
    """Refuse (InputError) an endpoint whose model isn't the Image Classification algorithm's."""
    from sagewiz.core.aws.errors import translated

    models = list(item.details.get("models") or [])
    if not models:
        return  # its configuration couldn't be read: let the endpoint's own answer say
    client = monitor.session.client("sagemaker", item.region)
    with translated(f"look up the model {models[0]}", profile=getattr(monitor.session, "profile", None)):
        described = client.describe_model(ModelName=models[0])
    containers = [described.get("PrimaryContainer") or {}] + list(described.get("Containers") or [])
    images = [str(c.get("Image", "")) for c in containers if c.get("Image")]
    if images and not any(ALGORITHM in image for image in images):
        raise InputError(f"The endpoint {item.name} serves a model of {images[0]}, not SageMaker's Image Classification "
                         "algorithm: sagewiz can't read its answers.", title="Another algorithm",
                         hint="Ask it with the client its makers wrote; sagewiz asks Image Classification endpoints.")


def ask(found: FoundModel, picture: str) -> tuple[PredictionResult, Predicted]:
    """``found``'s answer for the picture at ``picture``. Raises InputError when it isn't a
    picture that can be read (said by the model or the endpoint), WizardError when asking fails."""
    from sagewiz.core.predict import find_pictures, predict_pictures

    result = predict_pictures(found, find_pictures([picture]))
    if not result.predictions:
        reason = result.unreadable[0].reason if result.unreadable else "no answer came"
        raise InputError(f"{picture} couldn't be asked about: {reason}.", title="Not a picture",
                         hint="Give the path of a JPEG or PNG file.")
    return result, result.predictions[0]
