"""Pick a backend by the name the user typed (``--backend local`` / ``--backend aws``).

Each backend is imported only when asked for: the local one pulls in the training engine's
modules, the aws one boto3, and neither should slow down a command that uses the other.
"""

from __future__ import annotations

from sagewiz.core.backend import Backend
from sagewiz.core.errors import InputError
from sagewiz.core.ledger import Ledger

NAMES = ("local", "aws")


def open_backend(name: str, *, ledger: Ledger | None = None, region: str | None = None,
                 profile: str | None = None) -> Backend:
    """The backend called ``name``; ``region`` and ``profile`` only matter on aws. Creating it
    calls nothing remote. Raises InputError for an unknown name."""
    if name == "local":
        from sagewiz.core.local.backend import LocalBackend

        return LocalBackend(ledger=ledger)
    if name == "aws":
        from sagewiz.core.aws.backend import AwsBackend

        return AwsBackend(ledger=ledger, region=region, profile=profile)
    raise InputError(f"There is no backend called {name!r}.", hint=f"Choose one of: {', '.join(NAMES)}.")
