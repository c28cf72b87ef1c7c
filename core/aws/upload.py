"""Copy the packed dataset into S3: skip what is there unchanged, resume what was cut off.

A ``.rec`` file of a real dataset is gigabytes, and beginners upload over home connections. So:
- every object carries the SHA-256 of its file (metadata ``sagewiz-sha256``); a file whose
  object is already there with the same digest is not sent again;
- files larger than one part go up as a multipart upload, part by part. When an upload is cut
  off, the parts S3 already has stay with the unfinished upload; the next call finds that upload,
  keeps every part whose ETag (the MD5 of the part) matches the file, sends only the rest and
  completes it. An unfinished upload of different content is aborted, never completed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from sagewiz.core.aws.errors import translated
from sagewiz.core.errors import InputError

PART_SIZE = 8 << 20  # S3's minimum is 5 MiB; 8 MiB parts keep a lost connection cheap
DIGEST_KEY = "sagewiz-sha256"
_READ = 1 << 20

Progress = Callable[[int, int], None]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ):
            digest.update(chunk)
    return digest.hexdigest()


def _files(local: Path, key: str) -> list[tuple[Path, str]]:
    if local.is_file():
        return [(local, key)]
    if local.is_dir():
        return [(path, f"{key.rstrip('/')}/{path.relative_to(local).as_posix()}")
                for path in sorted(local.rglob("*")) if path.is_file()]
    raise InputError(f"There is no file or folder {local} to upload.", hint="Prepare (pack) the dataset again.")


def upload(session: Any, bucket: str, local_path: Path, key: str, progress: Progress | None = None,
           *, part_size: int = PART_SIZE) -> str:
    """Copy a file, or every file under a folder, to ``s3://bucket/key``; returns that URI.
    ``progress(bytes_done, bytes_total)`` is called as bytes go (or are found already there).
    Raises InputError for a missing file and the translated WizardError when S3 fails (what was
    sent stays, and calling again resumes)."""
    files = _files(Path(local_path), key)
    total = sum(path.stat().st_size for path, _ in files)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    s3 = session.client("s3")
    if progress:
        progress(0, total)
    for path, object_key in files:
        _upload_file(s3, bucket, path, object_key, part_size, advance)
    return f"s3://{bucket}/{key}"


def _already_there(s3: Any, bucket: str, key: str, size: int, digest: str) -> bool:
    try:
        with translated(f"look up s3://{bucket}/{key}"):
            head = s3.head_object(Bucket=bucket, Key=key)
    except InputError:  # NotFoundError: not uploaded yet
        return False
    return head.get("ContentLength") == size and head.get("Metadata", {}).get(DIGEST_KEY) == digest


def _upload_file(s3: Any, bucket: str, path: Path, key: str, part_size: int, advance: Callable[[int], None]) -> None:
    size, digest = path.stat().st_size, _sha256(path)
    if _already_there(s3, bucket, key, size, digest):
        advance(size)
        return
    if size <= part_size:
        with translated(f"upload {path.name}"), path.open("rb") as handle:
            s3.put_object(Bucket=bucket, Key=key, Body=handle, Metadata={DIGEST_KEY: digest})
        advance(size)
        return
    _multipart(s3, bucket, path, key, size, digest, part_size, advance)


def _parts_of(path: Path, size: int, part_size: int):
    with path.open("rb") as handle:
        for number, start in enumerate(range(0, size, part_size), start=1):
            handle.seek(start)
            yield number, handle.read(part_size)


def _pending(s3: Any, bucket: str, key: str) -> list[str]:
    with translated(f"look for an unfinished upload of {key}"):
        answer = s3.list_multipart_uploads(Bucket=bucket, Prefix=key)
    return [u["UploadId"] for u in answer.get("Uploads", []) if u["Key"] == key]


def _parts_there(s3: Any, bucket: str, key: str, upload_id: str) -> dict[int, str]:
    parts: dict[int, str] = {}
    marker = 0
    with translated(f"read the unfinished upload of {key}"):
        while True:
            page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
            parts.update({p["PartNumber"]: p["ETag"].strip('"') for p in page.get("Parts", [])})
            if not page.get("IsTruncated"):
                return parts
            marker = page["NextPartNumberMarker"]


def _multipart(s3: Any, bucket: str, path: Path, key: str, size: int, digest: str, part_size: int,
               advance: Callable[[int], None]) -> None:
    local = {number: hashlib.md5(data, usedforsecurity=False).hexdigest() for number, data in _parts_of(path, size, part_size)}
    upload_id, kept = None, {}
    for candidate in _pending(s3, bucket, key):
        there = _parts_there(s3, bucket, key, candidate)
        if upload_id is None and there and all(local.get(n) == etag for n, etag in there.items()):
            upload_id, kept = candidate, there  # the same file, cut off: continue it
        else:
            with translated(f"abort an outdated upload of {key}"):
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=candidate)
    if upload_id is None:
        with translated(f"start uploading {path.name}"):
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={DIGEST_KEY: digest})["UploadId"]
    etags = dict(kept)
    for number, data in _parts_of(path, size, part_size):
        if number in kept:
            advance(len(data))
            continue
        with translated(f"upload part {number} of {path.name}"):
            etags[number] = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)["ETag"].strip('"')
        advance(len(data))
    with translated(f"finish uploading {path.name}"):
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": f'"{etags[n]}"'} for n in sorted(etags)]})
