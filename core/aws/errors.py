"""Translate what boto3 and botocore raise into sagewiz's errors, at the aws backend's edge.

Use ``with translated("create the bucket"):`` around every AWS call. Each kind of failure a
beginner meets gets its own message and a hint with the command that fixes it; the AWS error
code is kept in the message so a search engine still finds it. Messages quote AWS's own text
but never credentials (botocore never puts a secret in an error).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from botocore import exceptions as boto

from sagewiz.core.errors import (
    CloudError,
    CredentialsError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    QuotaError,
    WizardError,
)

EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
INVALID_CREDENTIAL_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                            "InvalidAccessKeyId", "AuthFailure", "IncompleteSignature"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
BUSY_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
              "SlowDown", "ServiceUnavailable", "InternalFailure", "InternalError", "InternalServerError"}
NOT_FOUND_CODES = {"NoSuchBucket", "NoSuchKey", "NoSuchEntity", "ResourceNotFound", "ResourceNotFoundException",
                   "404", "NotFound", "NoSuchBucketPolicy"}


def _login_hint(profile: str | None) -> str:
    flag = f" --profile {profile}" if profile else ""
    return f"aws configure{flag}"


def translate(error: Exception, action: str, *, profile: str | None = None) -> WizardError:
    """The WizardError for a botocore/boto3 exception raised while trying to ``action``
    (words that complete "Couldn't …"). Anything else is returned as a CloudError."""
    flag = f" --profile {profile}" if profile else ""
    if isinstance(error, WizardError):
        return error
    if isinstance(error, (boto.SSOError, boto.TokenRetrievalError)):
        return CredentialsError(f"Couldn't {action}: your AWS SSO sign-in has expired.",
                                title="AWS sign-in expired", hint=f"Run `aws sso login{flag}` and try again.")
    if isinstance(error, boto.ProfileNotFound):
        name = profile or getattr(error, "kwargs", {}).get("profile") or "NAME"  # AWS_PROFILE names it too
        return CredentialsError(f"Couldn't {action}: there is no AWS profile called {name!r}.",
                                hint=f"Run `aws configure list-profiles` to see your profiles, or `aws configure --profile {name}` "
                                     "to make it.")
    if isinstance(error, (boto.NoCredentialsError, boto.PartialCredentialsError)):
        return CredentialsError(f"Couldn't {action}: no AWS credentials were found.",
                                hint=f"Run `{_login_hint(profile)}` (or `aws sso login{flag}`), or set AWS_PROFILE; "
                                     "or use the local backend, which needs no account.")
    if isinstance(error, (boto.EndpointConnectionError, boto.ConnectTimeoutError, boto.ReadTimeoutError,
                          boto.ConnectionClosedError)):
        return CloudError(f"Couldn't {action}: AWS could not be reached ({type(error).__name__}).",
                          title="No connection to AWS",
                          hint="Check the network connection (and AWS_ENDPOINT_URL if you set it), then try again.")
    if isinstance(error, boto.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", "")) or str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        text = str(info.get("Message", "")).strip() or code
        said = f"Couldn't {action}: {text} ({code})."
        if code in EXPIRED_CODES:
            return CredentialsError(f"Couldn't {action}: your AWS credentials have expired ({code}).",
                                    title="AWS sign-in expired",
                                    hint=f"Get fresh credentials: `aws sso login{flag}` for SSO, otherwise `{_login_hint(profile)}`.")
        if code in INVALID_CREDENTIAL_CODES:
            return CredentialsError(f"Couldn't {action}: AWS doesn't accept these credentials ({code}).",
                                    hint=f"Check the access key with `{_login_hint(profile)}`.")
        if code in DENIED_CODES:
            return PermissionDeniedError(said, hint=f"Ask your AWS administrator to allow this action for your identity "
                                                   f"(`aws sts get-caller-identity{flag}` shows which one), then try again.")
        if code == "ResourceLimitExceeded":
            return QuotaError(said, hint="Request a higher quota in the Service Quotas console (service 'Amazon SageMaker'), "
                                         "or run `sagewiz regions` to find a region and instance type with quota.")
        if code in BUSY_CODES or str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")).startswith("5"):
            return CloudError(f"Couldn't {action}: AWS is busy or failing and kept saying so after several retries ({code}).",
                              title="AWS is busy", hint="Wait a minute and try again; nothing was lost.")
        if code in NOT_FOUND_CODES or "not found" in text.lower() or "could not find" in text.lower() \
                or "does not exist" in text.lower():
            return NotFoundError(said, hint="`sagewiz resources` lists what sagewiz created.")
        if code in ("ValidationException", "ValidationError", "InvalidParameterValue", "InvalidRequest",
                    "MalformedPolicyDocument", "InvalidArgument"):
            return InputError(said, title="AWS refused the request", hint="Change the value the message names and try again.")
        return CloudError(said, hint="Try again; if it keeps happening, the message above is AWS's own explanation.")
    if isinstance(error, boto.BotoCoreError):
        return CloudError(f"Couldn't {action}: {error}", hint="Try again; check the AWS settings if it keeps happening.")
    return CloudError(f"Couldn't {action}: {type(error).__name__}: {error}", hint="Try again.")


@contextmanager
def translated(action: str, *, profile: str | None = None) -> Iterator[None]:
    """Raise the translated WizardError for any botocore/boto3 error inside the block."""
    try:
        yield
    except WizardError:
        raise
    except (boto.BotoCoreError, boto.ClientError) as error:
        raise translate(error, action, profile=profile) from error


def error_code(error: BaseException) -> str:
    """The AWS error code behind a translated or raw ClientError ('' when there is none)."""
    cause = error if isinstance(error, boto.ClientError) else error.__cause__
    if isinstance(cause, boto.ClientError):
        return str(cause.response.get("Error", {}).get("Code", ""))
    return ""
