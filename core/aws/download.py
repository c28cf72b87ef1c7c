"""A SageMaker model archive brought onto this computer once, and reused.

Testing a SageMaker-trained model here, predicting with it or continuing it locally all need its
``model.tar.gz`` as a file. It is downloaded into the sagewiz home (``models/aws/<bucket>/<key>``)
with progress, to a ``.partial`` name that is renamed only once complete, and kept with the
object's ETag beside it: the next use finds the same ETag and downloads nothing; an object
written again (the same job name trained anew) is downloaded again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from sagewiz.core.aws.errors import translated
from sagewiz.core.disk import room_needed
from sagewiz.core.errors import InputError

Progress = Callable[[int, int], None]
_CHUNK = 1 << 20
ETAG_SUFFIX = ".etag.json"


def _where(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key or ".." in key.split("/"):
        raise InputError(f"{uri} is not the S3 location of a model.", hint="Name a training job or an s3://bucket/key/model.tar.gz.")
    return parts.netloc, key


def cached_path(cache: Path, uri: str) -> Path:
    """Where the archive at ``uri`` is kept on this computer."""
    bucket, key = _where(uri)
    return cache / bucket / key


def model_size(session: Any, uri: str) -> int:
    """How many bytes the archive at ``uri`` has (what testing it here downloads), asked of S3
    without downloading it. Raises the translated WizardError when S3 can't be read."""
    bucket, key = _where(uri)
    with translated(f"look up the model {uri}"):
        return int(session.client("s3").head_object(Bucket=bucket, Key=key).get("ContentLength", 0))


def download_model(session: Any, uri: str, cache: Path, progress: Progress | None = None) -> Path:
    """The archive at ``uri`` as a file under ``cache``: the one downloaded before when S3 still
    holds the same object, else downloaded now (``progress(bytes_done, bytes_total)``). Raises
    the translated WizardError when S3 can't be read (a missing object: NotFoundError), and
    InputError when the disk has no room for it."""
    bucket, key = _where(uri)
    s3 = session.client("s3")
    with translated(f"look up the model {uri}"):
        head = s3.head_object(Bucket=bucket, Key=key)
    size, etag = int(head.get("ContentLength", 0)), str(head.get("ETag", ""))
    path = cached_path(cache, uri)
    stamp = path.with_name(path.name + ETAG_SUFFIX)
    if path.is_file() and path.stat().st_size == size and _stamp(stamp) == etag:
        if progress:
            progress(size, size)
        return path
    partial = path.with_name(path.name + ".partial")
    done = 0
    with room_needed(cache, f"download the model {uri}", size):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with translated(f"download the model {uri}"):
                # IfMatch: the bytes are those of the object just looked up, not of one written meanwhile
                body = s3.get_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))["Body"]
                with partial.open("wb") as out:
                    while chunk := body.read(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, size)
        except BaseException:
            partial.unlink(missing_ok=True)  # half a model is no model: the next use downloads it whole
            raise
        os.replace(partial, path)
        stamp.write_text(json.dumps({"uri": uri, "etag": etag, "size": size}))
    return path


def _stamp(path: Path) -> str:
    try:
        return str(json.loads(path.read_text()).get("etag", ""))
    except (OSError, ValueError, AttributeError):
        return ""
