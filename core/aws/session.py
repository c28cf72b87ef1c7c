"""One way to reach AWS: a boto3 session, its clients, and who the caller is.

Every client sagewiz makes comes from :class:`AwsSession.client`, so all of them share the same
profile, region, endpoint override and retry policy. ``AWS_ENDPOINT_URL`` (or the
``endpoint_url`` argument) points every service at another address: that is how the tests talk
to moto's server on 127.0.0.1, and how LocalStack users would.

Retries are botocore's *adaptive* mode: throttling and 5xx answers are retried with back-off and
a client-side rate limit, so a burst of ``ThrottlingException`` slows the wizard down instead of
stopping it. What is still failing after the retries is translated by
:func:`sagewiz.core.aws.errors.translated`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from sagewiz.core.aws.errors import translated

MAX_ATTEMPTS = 8
DEFAULT_REGION = "us-east-1"
# The Pricing API only answers in a few regions; us-east-1 is one of them.
PRICING_REGION = "us-east-1"


@dataclass(frozen=True)
class Identity:
    """Who the credentials belong to. Never holds a secret: only the account and the ARN."""

    account: str
    arn: str


class AwsSession:
    """A boto3 session with sagewiz's retry policy; ``client(service)`` hands out clients
    (cached per service and region). Creating one never calls AWS."""

    def __init__(self, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None,
                 *, max_attempts: int = MAX_ATTEMPTS, connect_timeout: float = 10, read_timeout: float = 60):
        with translated("open an AWS session", profile=profile):
            self.boto = boto3.Session(profile_name=profile or None, region_name=region or None)
        self.profile = profile
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self._config = Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts},
                              connect_timeout=connect_timeout, read_timeout=read_timeout)
        self._clients: dict[tuple[str, str], Any] = {}

    @property
    def region(self) -> str:
        """The region asked for, else the profile's, else us-east-1 (where the Pricing API is)."""
        return self.boto.region_name or DEFAULT_REGION

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for ``service`` in ``region`` (default: the session's)."""
        key = (service, region or self.region)
        if key not in self._clients:
            with translated(f"connect to {service}"):
                self._clients[key] = self.boto.client(service, region_name=key[1], endpoint_url=self.endpoint_url,
                                                      config=self._config)
        return self._clients[key]

    @cached_property
    def identity(self) -> Identity:
        """The account and identity ARN the credentials belong to (STS GetCallerIdentity).
        Raises CredentialsError with the command that fixes it."""
        with translated("find out who you are signed in as", profile=self.profile):
            answer = self.client("sts").get_caller_identity()
        return Identity(account=answer["Account"], arn=answer["Arn"])
