"""The one error hierarchy of sagewiz.

Everything that reaches a person is a :class:`WizardError`: a message that says what happened,
a short title for a dialog or a log line, and a hint that says what to do next. Backends and
file code translate OS, botocore and torch errors into these at their boundary, so the UI never
has to understand a traceback.
"""

from __future__ import annotations


class WizardError(Exception):
    """An error a person can act on: ``message`` (what happened), ``title``, ``hint`` (what next)."""

    default_title = "Something went wrong"

    def __init__(self, message: str, *, title: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.title = title or self.default_title
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str | None]:
        """The error as plain data, for ``--json`` output and logs."""
        return {"error": type(self).__name__, "title": self.title, "message": self.message, "hint": self.hint}


class InputError(WizardError):
    """Something the user typed or pointed at can't be used (a missing folder, a bad flag value)."""

    default_title = "Can't use that input"


class DatasetError(WizardError):
    """A dataset folder, list file or record file can't be read or isn't usable for training."""

    default_title = "Dataset problem"


class RecordIOError(DatasetError):
    """A ``.rec``/``.idx`` file is malformed or truncated."""

    default_title = "Damaged record file"


class CredentialsError(WizardError):
    """No AWS credentials, expired ones, or an expired SSO session: the hint names the command
    that fixes it (``aws configure``, ``aws sso login --profile …``)."""

    default_title = "AWS sign-in needed"


class PermissionDeniedError(WizardError):
    """The AWS identity may not do what was asked (AccessDenied): the hint names the action."""

    default_title = "Not allowed by AWS"


class QuotaError(WizardError):
    """The account's quota for an instance type is too small (ResourceLimitExceeded)."""

    default_title = "Quota too small"


class CloudError(WizardError):
    """AWS could not be reached or kept failing (network, throttling, 5xx after retries), or
    refused a request for a reason the message quotes."""

    default_title = "AWS problem"


class NotFoundError(InputError):
    """A job, endpoint, bucket or other resource that doesn't exist (any more)."""

    default_title = "Not found"


class ModelFileError(WizardError):
    """A model file (``.params`` weights, ``-symbol.json`` network) that is damaged, truncated,
    or not one of the networks the Image Classification algorithm trains."""

    default_title = "Damaged model file"
