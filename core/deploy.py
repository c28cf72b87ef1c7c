"""A model put on an endpoint by itself, outside a run: ``sagewiz deploy MODEL``.

The model is any the user can name (:func:`sagewiz.core.model.find.find_model`): one trained on this
computer goes to a SageMaker endpoint (its archive, already in SageMaker's layout, uploaded into
sagewiz's private bucket; CreateModel with the algorithm's own inference image), one trained on
SageMaker to this computer's free endpoint, a file to either. The archive is read first, so a
broken one is refused before anything is uploaded or billed. The endpoint stays until
``sagewiz cleanup`` deletes it, like one kept after a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from sagewiz.core.backend import Backend, Endpoint, EndpointSpec
from sagewiz.core.errors import InputError
from sagewiz.core.model.archive import ModelInfo, read_info
from sagewiz.core.model.download import sha256_of
from sagewiz.core.model.find import FoundModel

Progress = Callable[[int, int], None]
# SageMaker's names: letters, digits and hyphens, at most 63
_NAME = re.compile(r"[A-Za-z0-9](-*[A-Za-z0-9])*\Z")


@dataclass(frozen=True)
class Deployed:
    """The endpoint and what it serves."""

    endpoint: Endpoint
    model_uri: str
    info: ModelInfo
    uploaded: bool  # the archive was copied into this backend's storage first


def endpoint_name_for(found: FoundModel, digest: str) -> str:
    """The endpoint's default name: after the job that trained the model, else the archive's digest."""
    base = found.job_name.removesuffix("-train") if found.job_name else f"sagewiz-model-{digest[:8]}"
    return f"{base}-endpoint"[:63].rstrip("-")


def deploy_model(backend: Backend, found: FoundModel, *, instance_type: str = "", name: str = "",
                 region: str = "", progress: Progress | None = None, say: Callable[[str], None] = lambda text: None) -> Deployed:
    """An endpoint on ``backend`` for the model ``found`` names (an archive here, see find_model),
    on ``instance_type`` (default: the region's recommendation), called ``name`` (default:
    :func:`endpoint_name_for`). Raises InputError for a name SageMaker refuses or a type the
    region doesn't offer, ArtifactError for an archive that isn't a model, WizardError else."""
    if found.path is None:
        raise InputError(f"{found.described} is already an endpoint.", hint="Name a training job or a model.tar.gz to deploy.")
    info = read_info(found.path, class_names=found.class_names)  # refused here, before anything is uploaded
    digest = sha256_of(found.path)
    name = name or endpoint_name_for(found, digest)
    if len(name) > 63 or not _NAME.match(name):
        raise InputError(f"{name!r} can't be an endpoint's name.", hint="Use up to 63 letters, digits and hyphens, e.g. --name cats-dogs")
    report = backend.region_report(region or backend.default_region)
    offered = [o.instance_type for o in report.hosting]
    instance = instance_type or report.recommended_hosting or (offered[0] if offered else "")
    if offered and instance not in offered:
        raise InputError(f"{report.region} doesn't offer {instance} for endpoints.", hint="Choose one of: " + ", ".join(offered) + ".")
    uri, uploaded = found.model_uri, False
    if not _belongs_to(backend, uri):  # a model from elsewhere: into this backend's storage first
        say(f"Copying {found.path.name} ({found.described}) into private storage")
        storage = backend.ensure_storage(report.region)
        uri = backend.upload(storage, found.path, f"models/{digest[:16]}/model.tar.gz", progress=progress)
        uploaded = True
    say(f"Starting the endpoint {name} on {instance}")
    endpoint = backend.deploy(EndpointSpec(name, uri, instance, tags={"sagewiz:model": digest[:16]}), progress=say)
    return Deployed(endpoint, uri, info, uploaded)


def _belongs_to(backend: Backend, uri: str) -> bool:
    return uri.startswith("s3://") if backend.name == "aws" else uri.startswith("file:")
