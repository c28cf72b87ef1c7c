"""sagewiz's S3 bucket: private by construction, and checked when the user names their own.

The classic tutorial makes the bucket public so the notebook can read it. sagewiz does the
opposite, on every call (so a bucket someone loosened is tightened again): Block Public Access
with all four settings, default encryption, a policy refusing any request not made over TLS,
and object ownership enforced (ACLs off). A bucket the user names and sagewiz didn't make is
only checked, never changed, and refused while it is public.
"""

from __future__ import annotations

import json
from typing import Any

from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.backend import Storage
from sagewiz.core.errors import InputError, WizardError

MANAGED_TAG = {"Key": "sagewiz:managed", "Value": "true"}
PROTECTIONS = ("Block Public Access: all four settings on",
               "Encrypted at rest by default (SSE-S3, AES-256)",
               "A bucket policy refuses every request that doesn't use HTTPS",
               "Object ownership enforced: ACLs are off, everything belongs to your account")
_BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
_PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                  "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


def bucket_name(account: str, region: str) -> str:
    """sagewiz's bucket for an account and region: ``sagewiz-<account>-<region>`` (globally unique
    because the account is in it)."""
    return f"sagewiz-{account}-{region}"


def _tls_only_policy(name: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "sagewizDenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def _exists(s3: Any, name: str) -> bool:
    """True if the bucket exists and is ours; InputError if it belongs to someone else."""
    try:
        with translated(f"look up the bucket {name}"):
            s3.head_bucket(Bucket=name)
        return True
    except WizardError as error:
        code = error_code(error)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "Forbidden", "AccessDenied"):
            raise InputError(f"The bucket {name} exists but belongs to another AWS account (or you may not read it).",
                             title="Bucket not yours",
                             hint="Use sagewiz's own bucket (leave the bucket name empty), or one your account owns.") from error
        raise


def ensure_bucket(session: Any, region: str, name: str | None = None) -> Storage:
    """Create sagewiz's private bucket in ``region`` (or find it) and apply every protection;
    idempotent. With ``name``, use an existing bucket of the user's instead: checked, not
    changed, and refused with the reasons when it isn't private. Raises WizardError."""
    s3 = session.client("s3", region=region)
    own = name is None
    name = name or bucket_name(session.identity.account, region)
    if not own:
        if not _exists(s3, name):
            raise InputError(f"There is no bucket called {name}.", hint="Check the name, or let sagewiz create its own.")
        problems = bucket_problems(session, name, region)
        if problems:
            raise InputError(f"The bucket {name} is not private: " + "; ".join(problems) + ".",
                             title="Bucket is public",
                             hint="sagewiz keeps pictures and models in private storage only. Let sagewiz create its own "
                                  "bucket, or fix these settings in the S3 console first.")
        return Storage(f"s3://{name}", ("Checked: private (Block Public Access on, no public policy or ACL)",))
    if not _exists(s3, name):
        args: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":  # us-east-1 refuses a LocationConstraint naming itself
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            with translated(f"create the bucket {name}"):
                s3.create_bucket(**args, ObjectOwnership="BucketOwnerEnforced")
        except WizardError as error:
            if error_code(error) not in ("BucketAlreadyOwnedByYou",):
                if error_code(error) == "BucketAlreadyExists":
                    raise InputError(f"The bucket name {name} is taken by another AWS account.", title="Bucket name taken",
                                     hint="Run `sagewiz setup` with another region, or name a bucket of your own.") from error
                raise
    with translated(f"make the bucket {name} private"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=_BLOCK_ALL)
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
        s3.put_bucket_policy(Bucket=name, Policy=_tls_only_policy(name))
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [MANAGED_TAG]})
    return Storage(f"s3://{name}", PROTECTIONS)


def _read(name: str, call, missing: tuple[str, ...]) -> Any:
    """The answer of a read of the bucket's settings, or None when the setting isn't there at all."""
    try:
        with translated(f"read the settings of the bucket {name}"):
            return call()
    except WizardError as error:
        if error_code(error) in missing:
            return None
        raise


def bucket_problems(session: Any, name: str, region: str | None = None) -> list[str]:
    """Every way the bucket is not private, in words (empty: private). Raises WizardError."""
    s3 = session.client("s3", region=region)
    found: list[str] = []
    block = _read(name, lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
                  ("NoSuchPublicAccessBlockConfiguration",))
    if block is None:
        found.append("Block Public Access is off")
    else:
        off = [k for k in _BLOCK_ALL if not block.get(k)]
        if off:
            found.append("Block Public Access is partly off (" + ", ".join(off) + ")")
    status = _read(name, lambda: s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"], ("NoSuchBucketPolicy",))
    if status and status.get("IsPublic"):
        found.append("its bucket policy makes it public")
    ownership = _read(name, lambda: s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"],
                      ("OwnershipControlsNotFoundError",))
    if not ownership or ownership[0].get("ObjectOwnership") != "BucketOwnerEnforced":
        grants = _read(name, lambda: s3.get_bucket_acl(Bucket=name)["Grants"], ()) or []
        if any(g.get("Grantee", {}).get("URI") in _PUBLIC_GROUPS for g in grants):
            found.append("its ACL grants access to everyone")
    return found


def delete_bucket(session: Any, name: str) -> None:
    """Empty and delete sagewiz's bucket (objects, unfinished uploads, then the bucket); a
    bucket that is already gone is fine."""
    s3 = session.client("s3")
    try:
        with translated(f"delete the bucket {name}"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                doomed = [{"Key": o["Key"], "VersionId": o["VersionId"]} for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                if doomed:
                    s3.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})
            for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
                for upload in page.get("Uploads", []):
                    s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
            s3.delete_bucket(Bucket=name)
    except WizardError as error:
        if error_code(error) not in ("NoSuchBucket", "404"):
            raise
