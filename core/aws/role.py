"""The IAM role SageMaker works through: allowed exactly what the algorithm needs, nothing more.

The tutorials attach AmazonSageMakerFullAccess (every bucket named *sagemaker*, and much more).
sagewiz's role, ``sagewiz-sagemaker-<region>``, may read and write its one bucket, write the
training job's logs and metrics, and pull the algorithm's image — the role's inline policy says
so line by line. IAM is eventually consistent: a role that was just created can be refused by
SageMaker for a few seconds, so creation waits for it to settle.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.errors import InputError, WizardError

POLICY_NAME = "sagewiz-least-privilege"
MANAGED_TAG = {"Key": "sagewiz:managed", "Value": "true"}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


def role_name(region: str) -> str:
    return f"sagewiz-sagemaker-{region}"


def least_privilege_policy(bucket: str) -> dict[str, Any]:
    """What the Image Classification algorithm needs: its bucket, its logs, its image."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Data", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Sid": "ListData", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"},
        {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}},
        {"Sid": "PullToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "PullAlgorithm", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
         "Resource": "arn:aws:ecr:*:*:repository/image-classification"},
    ]}


def _trusts_sagemaker(document: Any) -> bool:
    if isinstance(document, str):
        document = json.loads(document)
    for statement in (document or {}).get("Statement", []):
        services = statement.get("Principal", {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and "sagemaker.amazonaws.com" in services and "sts:AssumeRole" in actions:
            return True
    return False


def ensure_role(session: Any, bucket: str, region: str, *, propagation_wait: float = 10.0) -> str:
    """Create (or find) sagewiz's role for ``region`` with the least-privilege policy for
    ``bucket``; returns its ARN. A role of that name that doesn't trust SageMaker is refused
    (InputError) rather than changed. Raises WizardError."""
    iam = session.client("iam")
    name = role_name(region)
    created = False
    try:
        with translated(f"look up the role {name}"):
            role = iam.get_role(RoleName=name)["Role"]
        if not _trusts_sagemaker(role.get("AssumeRolePolicyDocument")):
            raise InputError(f"The IAM role {name} exists but SageMaker may not use it (its trust policy doesn't name "
                             "sagemaker.amazonaws.com).", title="Role not usable",
                             hint=f"Delete the role {name} in the IAM console (sagewiz then creates it properly), or fix its trust policy.")
    except WizardError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        with translated(f"create the role {name}"):
            role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[MANAGED_TAG],
                                   Description="sagewiz: lets SageMaker train and host the Image Classification algorithm "
                                               f"with the data in s3://{bucket} only")["Role"]
        created = True
    with translated(f"give the role {name} its permissions"):
        iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(least_privilege_policy(bucket)))
    if created:
        with translated(f"wait for the role {name}"):
            iam.get_waiter("role_exists").wait(RoleName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        time.sleep(propagation_wait)  # IAM answers before SageMaker's view of the role is up to date
    return role["Arn"]


def find_usable_role(session: Any) -> str | None:
    """The ARN of a role the account already has that SageMaker may use (the SageMaker console's
    AmazonSageMaker-ExecutionRole-…, for example), or None."""
    iam = session.client("iam")
    with translated("list the IAM roles"):
        for page in iam.get_paginator("list_roles").paginate():
            for role in page.get("Roles", []):
                if _trusts_sagemaker(role.get("AssumeRolePolicyDocument")):
                    return role["Arn"]
    return None


def delete_role(session: Any, name: str) -> None:
    """Delete sagewiz's role and its inline policy; a role that is already gone is fine."""
    iam = session.client("iam")
    try:
        with translated(f"delete the role {name}"):
            for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)
    except WizardError as error:
        if error_code(error) != "NoSuchEntity":
            raise
