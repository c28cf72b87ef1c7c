"""What sagewiz knows about AWS without asking it: where the Image Classification algorithm is
published, which instance types it runs on, their GPUs, and a dated table of prices.

The registry and GPU tables are vendored, unchanged, from the SageMaker Python SDK
(:data:`SDK_VERSION`, see ``data/SOURCE.md``); ``data/prices.json`` is sagewiz's own fallback
for when the AWS Pricing API can't be read. Every table is read on first use, so importing this
module costs nothing.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from sagewiz.core.errors import NotFoundError

SDK_VERSION = "2.257.7"
"""The sagemaker SDK release the two vendored JSON tables were copied from."""

ALGORITHM_VERSION = "1"
REPOSITORY = "image-classification"

BUNDLED_PRICES_AS_OF = "2026-11"
"""When ``data/prices.json`` was written (its ``as_of``; a test keeps the two equal)."""
PRICE_SOURCE_API = "pricing-api"
PRICE_SOURCE_BUNDLED = f"bundled table ({BUNDLED_PRICES_AS_OF})"

USAGES = ("training", "hosting", "notebook", "transform")
# The bundled table has no batch transform column: SageMaker's published on-demand batch transform
# prices are those of real-time inference for the same instance type, so that column stands in.
_BUNDLED_COLUMN = {"transform": "hosting"}

# GPU families the built-in Image Classification algorithm trains on (it needs a GPU for
# training; hosting also runs on CPU).
TRAINING_FAMILIES = ("ml.p2", "ml.p3", "ml.p3dn", "ml.p4d", "ml.g4dn", "ml.g5")
CPU_HOSTING_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge")

# Types the vendored GPU table lacks although SageMaker offers them (it lists "ml.g5n.xlarge"
# where ml.g5.xlarge is meant): (GPU count, GPU memory in GiB), added where the region has
# the family at all.
_MISSING_FROM_GPU_TABLE = {"ml.g5.xlarge": (1, 24.0)}

# How the ECR domain is spelled per partition (the China regions differ).
_CHINA_PREFIX = "cn-"


def _load(name: str) -> Any:
    with resources.files("sagewiz.core.aws").joinpath("data", name).open("r", encoding="utf-8") as handle:
        return json.load(handle)


@cache
def algorithm_registries() -> dict[str, str]:
    """Region → the AWS account whose ECR registry holds ``image-classification:1`` there."""
    table = _load("image-classification.json")
    return dict(table["versions"][ALGORITHM_VERSION]["registries"])


def algorithm_regions() -> list[str]:
    """Every region the algorithm is published in, sorted."""
    return sorted(algorithm_registries())


def partition(region: str) -> str:
    """The AWS partition a region belongs to ("aws", "aws-cn", "aws-us-gov", "aws-iso"…):
    credentials of one partition don't work in another."""
    if region.startswith(_CHINA_PREFIX):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-isof-"):
        return "aws-iso-f"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"


def image_uri(region: str) -> str:
    """The algorithm's container image in ``region``. Raises NotFoundError, naming regions that
    have it, when the algorithm isn't published there."""
    registries = algorithm_registries()
    account = registries.get(region)
    if account is None:
        nearby = [name for name in ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
                  if name in registries]
        raise NotFoundError(f"The SageMaker Image Classification algorithm isn't published in the region {region!r}.",
                            title="Algorithm not in this region",
                            hint=f"Choose a region that has it, e.g. {', '.join(nearby)} "
                                 f"(`sagewiz regions` lists all {len(registries)}).")
    domain = "amazonaws.com.cn" if region.startswith(_CHINA_PREFIX) else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/{REPOSITORY}:{ALGORITHM_VERSION}"


def family(instance_type: str) -> str:
    """``ml.g4dn.xlarge`` → ``ml.g4dn``."""
    return ".".join(instance_type.split(".")[:2])


def is_training_type(instance_type: str) -> bool:
    """Whether the algorithm trains on this instance type (a supported GPU family)."""
    return family(instance_type) in TRAINING_FAMILIES


def is_hosting_type(instance_type: str) -> bool:
    """Whether sagewiz offers this instance type for the algorithm's real-time endpoint."""
    return instance_type in CPU_HOSTING_TYPES or is_training_type(instance_type)


@cache
def _gpu_table() -> dict[str, dict[str, tuple[int, float]]]:
    table = _load("instance_gpu_info.json")
    return {region: {name: (int(info["Count"]), info["TotalGpuMemoryInMiB"] / 1024) for name, info in types.items()}
            for region, types in table.items()}


def gpu_instances(region: str) -> dict[str, tuple[int, float]]:
    """Instance type → (GPU count, total GPU memory in GiB) for the GPU types the SDK's table
    lists in ``region`` ({} for a region it doesn't cover)."""
    types = dict(_gpu_table().get(region, {}))
    families = {family(name) for name in types}
    for name, info in _MISSING_FROM_GPU_TABLE.items():
        if family(name) in families:
            types.setdefault(name, info)
    return types


def gpu_info(instance_type: str, region: str | None = None) -> tuple[int, float | None]:
    """(GPU count, GPU memory GiB) of an instance type: from ``region``'s table, else any
    region's; (0, None) for a CPU type."""
    if region is not None and instance_type in (found := gpu_instances(region)):
        return found[instance_type]
    if instance_type in _MISSING_FROM_GPU_TABLE:
        return _MISSING_FROM_GPU_TABLE[instance_type]
    for types in _gpu_table().values():
        if instance_type in types:
            return types[instance_type]
    return 0, None


def training_types(region: str) -> list[str]:
    """The GPU types of ``region`` (per the SDK's table) that the algorithm trains on."""
    return sorted(name for name in gpu_instances(region) if is_training_type(name))


def hosting_types(region: str) -> list[str]:
    """The types sagewiz would host on in ``region`` (per the tables): CPU ones and the GPU ones."""
    return list(CPU_HOSTING_TYPES) + training_types(region)


@cache
def _prices() -> dict[str, Any]:
    return _load("prices.json")


def bundled_prices_as_of() -> str:
    """The ``as_of`` date written in ``data/prices.json``."""
    return str(_prices()["as_of"])


def bundled_source(usage: str) -> str:
    """How a bundled price for ``usage`` is cited: the table and the date of its column."""
    if usage == "notebook":
        return f"bundled table ({_prices().get('notebook_as_of', BUNDLED_PRICES_AS_OF)})"
    return PRICE_SOURCE_BUNDLED


def bundled_price(region: str, instance_type: str, usage: str = "training") -> float | None:
    """The bundled on-demand USD/hour of ``instance_type`` for ``usage`` ("training", "hosting",
    "notebook" for notebook instances, "transform" for batch transform) in ``region``; None when
    the table has no value for it."""
    if usage not in USAGES:
        raise ValueError(f"usage must be one of {USAGES}, not {usage!r}")
    column = _BUNDLED_COLUMN.get(usage, usage)
    value = _prices()["prices"].get(region, {}).get(column, {}).get(instance_type)
    return None if value is None else float(value)
