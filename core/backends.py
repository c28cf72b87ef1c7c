"""Pick a backend by the name the user typed (``--backend local`` / ``--backend aws``).

Each backend is imported only when asked for: the local one pulls in the training engine's
modules, the aws one boto3, and neither should slow down a command that uses the other.
"""

from __future__ import annotations

from sagewiz.core.backend import Backend
from sagewiz.core.errors import InputError
from sagewiz.core.ledger import Ledger

NAMES = ("local", "aws")


def open_backend(name: str, *, ledger: Ledger | None = None, region: str | None = None) -> Backend:
    """The backend called ``name``. Raises InputError for an unknown name, or for the aws
    backend while this version can't run SageMaker jobs yet (say so rather than half-work)."""
    if name == "local":
        from sagewiz.core.local.backend import LocalBackend

        return LocalBackend(ledger=ledger)
    if name == "aws":
        try:
            from sagewiz.core.aws.backend import AwsBackend
        except ImportError:
            raise InputError("This version of sagewiz can't run training on AWS SageMaker yet.",
                             title="AWS backend not available",
                             hint="Use --backend local (free, on this computer); `sagewiz regions` and "
                                  "`sagewiz setup --backend aws` prepare an AWS account when they are available.") from None
        return AwsBackend(ledger=ledger, region=region)
    raise InputError(f"There is no backend called {name!r}.", hint=f"Choose one of: {', '.join(NAMES)}.")
