"""Which regions ``--all-regions`` covers: those SageMaker is in (botocore's endpoint data, for the
session's partition) that the account has enabled (EC2 DescribeRegions lists only those), so an
opt-in region nobody turned on is not asked, and doesn't answer "bad credentials"."""

from __future__ import annotations

from typing import Any

from sagewiz.core.aws import catalog
from sagewiz.core.aws.errors import translated
from sagewiz.core.errors import CredentialsError, WizardError


def enabled_regions(session: Any) -> tuple[tuple[str, ...], str | None]:
    """(the regions, sorted; a note when the enabled ones couldn't be read and every SageMaker
    region is asked instead). Raises CredentialsError."""
    offered = set(session.boto.get_available_regions("sagemaker", partition_name=catalog.partition(session.region)))
    try:
        with translated("list the regions enabled for your account"):
            answer = session.client("ec2").describe_regions()
    except CredentialsError:
        raise
    except WizardError as error:
        return tuple(sorted(offered)), (f"The regions enabled for your account couldn't be read ({error.message}); "
                                        "every region SageMaker is in was asked, and those not enabled say so.")
    enabled = {r["RegionName"] for r in answer.get("Regions", [])}
    return tuple(sorted(offered & enabled)), None
