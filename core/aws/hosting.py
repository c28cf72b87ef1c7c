"""Real-time endpoints: model → endpoint config → endpoint, all three under the endpoint's name,
so a person reading the console sees which belong together and clean-up deletes all three.

Every step first looks for what already exists, so deploying again after an interruption
continues instead of failing on "already exists".
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.aws.training import aws_tags
from sagewiz.core.backend import Endpoint, EndpointSpec, EndpointStatus, Prediction
from sagewiz.core.errors import CloudError, InputError, NotFoundError, WizardError

WAIT_SECONDS = 30 * 60  # a GPU endpoint usually takes 5–10 minutes; give up after 30
POLL_SECONDS = 15.0
MAX_CONCURRENCY = 5  # serverless: enough for a person testing pictures


def _missing(error: BaseException) -> bool:
    return isinstance(error, NotFoundError) or error_code(error) in ("ValidationException", "ResourceNotFound")


def _exists(action: str, call: Callable[[], Any]) -> bool:
    """Whether ``call`` finds the thing; any other failure is raised, translated with ``action``."""
    try:
        with translated(action):
            call()
        return True
    except WizardError as error:
        if _missing(error):
            return False
        raise


def create(sagemaker: Any, spec: EndpointSpec, *, image_uri: str, role_arn: str) -> None:
    """Create whichever of the model, endpoint config and endpoint does not exist yet."""
    name, tags = spec.endpoint_name, aws_tags(spec.tags)
    model_exists = _exists(f"look up the model {name}", lambda: sagemaker.describe_model(ModelName=name))
    if not model_exists:
        with translated(f"create the model {name}"):
            sagemaker.create_model(ModelName=name, ExecutionRoleArn=role_arn, Tags=tags,
                                   PrimaryContainer={"Image": image_uri, "ModelDataUrl": spec.model_uri})
    config_exists = _exists(f"look up the endpoint configuration {name}", lambda: sagemaker.describe_endpoint_config(EndpointConfigName=name))
    if not config_exists:
        variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": name, "InitialVariantWeight": 1.0}
        if spec.serverless_memory_mb:
            variant["ServerlessConfig"] = {"MemorySizeInMB": spec.serverless_memory_mb, "MaxConcurrency": MAX_CONCURRENCY}
        else:
            variant.update(InstanceType=spec.instance_type, InitialInstanceCount=spec.instance_count)
        with translated(f"create the endpoint configuration {name}"):
            sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], Tags=tags)
    endpoint_exists = _exists(f"look up the endpoint {name}", lambda: sagemaker.describe_endpoint(EndpointName=name))
    if not endpoint_exists:
        with translated(f"create the endpoint {name}"):
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)


def endpoint_from(described: dict[str, Any], *, instance_type: str = "", price_per_hour: float | None = None) -> Endpoint:
    return Endpoint(endpoint_name=described["EndpointName"], status=EndpointStatus(described["EndpointStatus"]),
                    instance_type=instance_type, price_per_hour=price_per_hour,
                    failure_reason=described.get("FailureReason"))


def describe(sagemaker: Any, name: str, **known: Any) -> Endpoint:
    """The endpoint's status now. Raises NotFoundError for an endpoint that doesn't exist."""
    with translated(f"look up the endpoint {name}"):
        try:
            described = sagemaker.describe_endpoint(EndpointName=name)
        except Exception as error:
            if error_code(error) == "ValidationException":  # SageMaker's way of saying "no such endpoint"
                raise NotFoundError(f"There is no SageMaker endpoint called {name}.",
                                    hint="`sagewiz resources --backend aws` lists the endpoints sagewiz made.") from error
            raise
    return endpoint_from(described, **known)


def wait_in_service(sagemaker: Any, name: str, progress: Callable[[str], None] | None = None, *,
                    timeout: float = WAIT_SECONDS, poll_seconds: float = POLL_SECONDS,
                    sleep: Callable[[float], None] = time.sleep, **known: Any) -> Endpoint:
    """Poll until the endpoint is InService (returned) or Failed (raises CloudError with
    SageMaker's reason); reports each new status to ``progress``."""
    started, said = time.monotonic(), None
    while True:
        endpoint = describe(sagemaker, name, **known)
        if endpoint.status.value != said and progress:
            progress(f"Endpoint {name}: {endpoint.status.value}")
        said = endpoint.status.value
        if endpoint.status == EndpointStatus.IN_SERVICE:
            return endpoint
        if endpoint.status in (EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE):
            raise CloudError(f"The endpoint {name} could not start: {endpoint.failure_reason or endpoint.status.value}.",
                             title="Endpoint failed",
                             hint="Delete it with `sagewiz cleanup`, then deploy again (another instance type may help).")
        if time.monotonic() - started > timeout:
            raise CloudError(f"The endpoint {name} is still {endpoint.status.value} after {timeout / 60:.0f} minutes.",
                             title="Endpoint is slow to start",
                             hint="It keeps starting in the background: `sagewiz resources --backend aws` shows it; "
                                  "delete it with `sagewiz cleanup` if you no longer want it.")
        sleep(poll_seconds)


def predict(runtime: Any, name: str, image: bytes, content_type: str) -> Prediction:
    """The endpoint's class probabilities for one encoded image."""
    if content_type not in ("image/jpeg", "image/png", "application/x-image"):
        raise InputError(f"The endpoint takes image/jpeg, image/png or application/x-image, not {content_type}.",
                         hint="Send a JPEG or PNG picture.")
    with translated(f"ask the endpoint {name}"):
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType=content_type, Accept="application/json", Body=image)
    body = answer["Body"].read()
    try:
        probabilities = json.loads(body)["prediction"]
        return Prediction(tuple(float(p) for p in probabilities))
    except (ValueError, KeyError, TypeError) as error:
        raise CloudError(f"The endpoint {name} answered something that isn't a prediction: {body[:120]!r}.",
                         title="Unexpected answer",
                         hint="Check that the endpoint serves an Image Classification model.") from error


def delete(sagemaker: Any, name: str) -> None:
    """Delete the endpoint, its configuration and its model; what is already gone is skipped."""
    for action, call in (("endpoint", lambda: sagemaker.delete_endpoint(EndpointName=name)),
                         ("endpoint configuration", lambda: sagemaker.delete_endpoint_config(EndpointConfigName=name)),
                         ("model", lambda: sagemaker.delete_model(ModelName=name))):
        try:
            with translated(f"delete the {action} {name}"):
                call()
        except WizardError as error:
            if not _missing(error):
                raise
