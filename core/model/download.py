"""Fetching the ONNX model zoo's ResNet v2 files: resumed, checked, and said plainly when offline.

Standard library only (urllib). A download is written to ``NAME.partial`` and gets its real name only
once its size and SHA-256 are those below, so a cut-off or damaged file never passes for a complete
one; a ``.partial`` left by an interrupted download is continued with an HTTP Range request.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from sagewiz.core.errors import InputError, WizardError

# The ONNX model zoo's ResNet v2 (Apache-2.0), exported from Gluon's resnet*_v2: size and SHA-256
# from the Git LFS pointer files in github.com/onnx/models, validated/vision/classification/resnet/
# model/resnetNN-v2-7.onnx (commit 4c46cd00fbdb7cd30b6c1c17ab54f2e1f4f7b177, 2023-12-21). GitHub stopped
# serving the zoo's LFS files in July 2025; the zoo's own notice points to Hugging Face, where
# onnxmodelzoo/legacy_models holds them under the same paths. The checksum decides either way.
ZOO_FILES = {
    18: ("resnet18-v2-7.onnx", 46_806_737, "3b4d048057854022232aa20bf68262e31718ab7119a17f920b8a2dc1433f824b"),
    34: ("resnet34-v2-7.onnx", 87_288_587, "3d3815e25f4b1ea967e2a526a3b27ef2a03af1725bdc199a63a271c26862d914"),
    50: ("resnet50-v2-7.onnx", 102_442_452, "79102261eb6e5fd7af5d27f41316293e388c5cb691e5d25bfb035c4f64fefe31"),
    101: ("resnet101-v2-7.onnx", 178_682_301, "3a0a819ea0953fb4700b0d98e43540aeee253e5b4c503c552b0c7979fc67767d"),
    152: ("resnet152-v2-7.onnx", 241_503_848, "40fb3f6dd313ba786a2c8077a0ef7d7b4afeda5d037365400d3a7fbc2b1bee64"),
}
_ZOO_PATH = "validated/vision/classification/resnet/model"
MIRRORS = (
    f"https://huggingface.co/onnxmodelzoo/legacy_models/resolve/main/{_ZOO_PATH}",
    f"https://media.githubusercontent.com/media/onnx/models/main/{_ZOO_PATH}",
)
# Where tests (or a company mirror) point downloads instead: a base URL the file names are appended to.
BASE_URL_VARIABLE = "SAGEWIZ_PRETRAINED_URL"
_CHUNK = 1 << 20
_TIMEOUT_S = 30


class DownloadError(WizardError):
    """A pretrained network could not be downloaded: no connection, not found, or not the right file."""

    default_title = "Download failed"


@dataclass(frozen=True)
class ZooFile:
    """One file of the model zoo: its name, size and SHA-256, and the URLs to try in turn."""

    num_layers: int
    name: str
    size: int
    sha256: str
    urls: tuple[str, ...]


def zoo_file(num_layers: int, base_url: str | None = None) -> ZooFile:
    """The model zoo's ResNet v2 file of this depth; InputError for a depth it doesn't have."""
    if num_layers not in ZOO_FILES:
        raise InputError(f"The ONNX model zoo has no ResNet v2 of {num_layers} layers.",
                         hint=f"Choose one of {', '.join(map(str, ZOO_FILES))}.")
    name, size, sha256 = ZOO_FILES[num_layers]
    base = base_url or os.environ.get(BASE_URL_VARIABLE)
    bases = (base.rstrip("/"),) if base else MIRRORS
    return ZooFile(num_layers, name, size, sha256, tuple(f"{b}/{name}" for b in bases))


def _by_hand(zoo: ZooFile) -> str:
    return (f"Download {zoo.urls[0]} by hand (in a browser, or on another computer), then add it with "
            f"`sagewiz pretrained add {zoo.name}`.")


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _NotThere(Exception):
    """This URL doesn't have the file (404 and the like): the next mirror may."""


def fetch_zoo_file(zoo: ZooFile, folder: Path, progress: Callable[[int, int], None] | None = None) -> tuple[Path, str]:
    """Download ``zoo`` into ``folder`` (continuing a ``.partial`` there) and return its path and
    the URL it came from, once its size and SHA-256 are right. Raises :class:`DownloadError`."""
    folder.mkdir(parents=True, exist_ok=True)
    final, partial = folder / zoo.name, folder / (zoo.name + ".partial")
    missing = []
    for url in zoo.urls:
        try:
            _download(url, partial, zoo, progress)
        except _NotThere as reason:
            missing.append(f"{url} ({reason})")
            continue
        if partial.stat().st_size != zoo.size:  # the server said it was done before the end
            raise DownloadError(f"The download of {zoo.name} stopped at {partial.stat().st_size:,} of "
                                f"{zoo.size:,} bytes.", hint="Run the same command again: it continues where it stopped.")
        if sha256_of(partial) != zoo.sha256:
            partial.unlink()
            raise DownloadError(f"{zoo.name} from {url} has {zoo.size:,} bytes but not the SHA-256 of the model "
                                "zoo's file (damaged, or not that file); it was deleted.",
                                title="Wrong file downloaded", hint="Run the command again, or " + _by_hand(zoo))
        os.replace(partial, final)
        return final, url
    raise DownloadError(f"{zoo.name} was not found at " + "; ".join(missing) + ".",
                        title="File not found", hint=_by_hand(zoo))


def _download(url: str, partial: Path, zoo: ZooFile, progress: Callable[[int, int], None] | None) -> None:
    have = partial.stat().st_size if partial.exists() else 0
    if have > zoo.size:
        partial.unlink()
        have = 0
    if have == zoo.size:
        return
    headers = {"User-Agent": "sagewiz", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    host = urlparse(url).netloc or url
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the partial file doesn't fit this server's: start again
            partial.unlink()
            return _download(url, partial, zoo, progress)
        if error.code in (401, 403, 404, 410):
            raise _NotThere(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(f"{host} answered HTTP {error.code} {error.reason} for {zoo.name}.",
                            hint="Try again later, or " + _by_hand(zoo)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"Can't reach {host} to download {zoo.name} ({reason}): this computer seems to "
                            "have no internet connection.", title="No connection", hint=_by_hand(zoo)) from None
    with response:
        resumed = have and response.status == 206 and \
            response.headers.get("Content-Range", "").startswith(f"bytes {have}-")
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and have + int(length) != zoo.size:
            raise DownloadError(f"{host} offers {have + int(length):,} bytes for {zoo.name}, but the model zoo's "
                                f"file has {zoo.size:,}.", title="Wrong file offered", hint=_by_hand(zoo))
        try:
            with open(partial, "ab" if resumed else "wb") as out:
                if progress:
                    progress(have, zoo.size)
                while chunk := response.read(_CHUNK):
                    have += len(chunk)
                    if have > zoo.size:
                        break
                    out.write(chunk)
                    if progress:
                        progress(have, zoo.size)
        except (OSError, http.client.HTTPException, socket.timeout) as error:
            if getattr(error, "errno", None) is not None and not isinstance(error, (socket.timeout, ConnectionError)):
                raise  # this computer's disk, not the network: said by the caller
            raise DownloadError(f"The download of {zoo.name} broke off at {have:,} of {zoo.size:,} bytes ({error}).",
                                hint="Run the same command again: it continues where it stopped.") from None
    if have > zoo.size:
        partial.unlink()
        raise DownloadError(f"{host} sent more than the {zoo.size:,} bytes of {zoo.name}: not the model zoo's file.",
                            title="Wrong file offered", hint=_by_hand(zoo))
