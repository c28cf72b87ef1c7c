"""Where a beginner's pictures go on AWS: a bucket nobody else can read, a role that can touch
only that bucket, and an upload that survives a dropped connection — against moto's server."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ConnectionClosedError

from aws_faults import Faults, count_calls, xml_error
from sagewiz.core.aws import bucket, role, upload
from sagewiz.core.aws.session import AwsSession
from sagewiz.core.errors import CloudError, InputError

MIB = 1 << 20


@pytest.fixture
def session(aws_env):
    return AwsSession(region="eu-west-1", max_attempts=3)


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1"])
def test_sagewiz_s_bucket_has_every_protection(aws_env, region):
    session = AwsSession(region=region)
    storage = bucket.ensure_bucket(session, region)
    name = f"sagewiz-123456789012-{region}"
    assert storage.uri == f"s3://{name}" and len(storage.protections) == 4
    s3 = session.client("s3")
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [statement] = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert {"Key": "sagewiz:managed", "Value": "true"} in s3.get_bucket_tagging(Bucket=name)["TagSet"]
    if region != "us-east-1":
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == region
    assert bucket.bucket_problems(session, name) == []


def test_asking_again_creates_no_second_bucket_and_tightens_a_loosened_one(session):
    first = bucket.ensure_bucket(session, "eu-west-1")
    s3 = session.client("s3")
    s3.delete_public_access_block(Bucket="sagewiz-123456789012-eu-west-1")  # someone loosened it
    assert bucket.bucket_problems(session, "sagewiz-123456789012-eu-west-1") == ["Block Public Access is off"]
    creates = count_calls(s3, "CreateBucket")
    assert bucket.ensure_bucket(session, "eu-west-1") == first
    assert creates[0] == 0 and len(s3.list_buckets()["Buckets"]) == 1
    assert bucket.bucket_problems(session, "sagewiz-123456789012-eu-west-1") == []


def test_a_public_bucket_the_user_names_is_refused_with_the_reasons(session):
    s3 = session.client("s3")
    s3.create_bucket(Bucket="my-tutorial-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_policy(Bucket="my-tutorial-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-tutorial-bucket/*"}]}))
    with pytest.raises(InputError) as caught:
        bucket.ensure_bucket(session, "eu-west-1", name="my-tutorial-bucket")
    assert caught.value.title == "Bucket is public"
    assert "Block Public Access is off" in caught.value.message and "bucket policy makes it public" in caught.value.message
    assert "private storage" in caught.value.hint
    assert "Policy" in s3.get_bucket_policy(Bucket="my-tutorial-bucket")  # refused, not changed


def test_a_private_bucket_the_user_names_is_used_as_it_is(session):
    s3 = session.client("s3")
    s3.create_bucket(Bucket="my-private-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_public_access_block(Bucket="my-private-bucket", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    assert bucket.ensure_bucket(session, "eu-west-1", name="my-private-bucket").uri == "s3://my-private-bucket"
    with pytest.raises(InputError, match="no bucket called"):
        bucket.ensure_bucket(session, "eu-west-1", name="no-such-bucket-here")


def test_the_role_trusts_sagemaker_and_may_touch_only_its_bucket(session):
    arn = role.ensure_role(session, "sagewiz-123456789012-eu-west-1", "eu-west-1", propagation_wait=0)
    assert arn == "arn:aws:iam::123456789012:role/sagewiz-sagemaker-eu-west-1"
    iam = session.client("iam")
    trust = iam.get_role(RoleName="sagewiz-sagemaker-eu-west-1")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    policy = iam.get_role_policy(RoleName="sagewiz-sagemaker-eu-west-1", PolicyName=role.POLICY_NAME)["PolicyDocument"]
    s3_resources = {r for s in policy["Statement"] if any(a.startswith("s3:") for a in s["Action"]) for r in [s["Resource"]]}
    assert s3_resources == {"arn:aws:s3:::sagewiz-123456789012-eu-west-1", "arn:aws:s3:::sagewiz-123456789012-eu-west-1/*"}
    assert iam.list_attached_role_policies(RoleName="sagewiz-sagemaker-eu-west-1")["AttachedPolicies"] == []  # no FullAccess
    creates = count_calls(iam, "CreateRole")
    assert role.ensure_role(session, "sagewiz-123456789012-eu-west-1", "eu-west-1", propagation_wait=0) == arn
    assert creates[0] == 0


def test_a_role_of_that_name_sagemaker_may_not_use_is_refused_not_changed(session):
    iam = session.client("iam")
    iam.create_role(RoleName="sagewiz-sagemaker-eu-west-1", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    with pytest.raises(InputError, match="SageMaker may not use it"):
        role.ensure_role(session, "b", "eu-west-1", propagation_wait=0)
    assert iam.list_role_policies(RoleName="sagewiz-sagemaker-eu-west-1")["PolicyNames"] == []


def test_an_existing_sagemaker_execution_role_can_be_found(session):
    assert role.find_usable_role(session) is None
    role.ensure_role(session, "b", "eu-west-1", propagation_wait=0)
    assert role.find_usable_role(session).endswith(":role/sagewiz-sagemaker-eu-west-1")


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    (folder / "nested").mkdir(parents=True)
    (folder / "train.lst").write_text("0\t0\tcat/1.jpg\n")
    (folder / "nested" / "labels.txt").write_text("cat\ndog\n")
    return folder


def test_a_folder_uploads_with_progress_and_unchanged_files_are_not_sent_again(session, data):
    bucket.ensure_bucket(session, "eu-west-1")
    name = "sagewiz-123456789012-eu-west-1"
    seen = []
    assert upload.upload(session, name, data, "run1/data", lambda done, total: seen.append((done, total))) == f"s3://{name}/run1/data"
    total = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    assert seen[-1] == (total, total) and seen[0] == (0, total)
    keys = sorted(o["Key"] for o in session.client("s3").list_objects_v2(Bucket=name)["Contents"])
    assert keys == ["run1/data/nested/labels.txt", "run1/data/train.lst"]

    puts = count_calls(session.client("s3"), "PutObject")
    upload.upload(session, name, data, "run1/data")
    assert puts[0] == 0
    (data / "train.lst").write_text("0\t1\tdog/1.jpg\n")
    upload.upload(session, name, data, "run1/data")
    assert puts[0] == 1
    body = session.client("s3").get_object(Bucket=name, Key="run1/data/train.lst")["Body"].read()
    assert body == b"0\t1\tdog/1.jpg\n"


def test_a_dropped_connection_mid_upload_resumes_with_only_the_missing_parts(session, tmp_path):
    bucket.ensure_bucket(session, "eu-west-1")
    name = "sagewiz-123456789012-eu-west-1"
    big = tmp_path / "train.rec"
    big.write_bytes(bytes(range(256)) * (17 * MIB // 256))  # 17 MiB: four parts of 5 MiB
    s3 = session.client("s3")
    sent = count_calls(s3, "UploadPart")
    # the network goes away after two parts, for longer than the retries wait
    drops = Faults(s3, "UploadPart", [None, None] + [ConnectionClosedError(endpoint_url="s3") for _ in range(3)])  # None: let it through
    with pytest.raises(CloudError) as caught:
        upload.upload(session, name, big, "run1/train.rec", part_size=5 * MIB)
    assert "could not be reached" in caught.value.message and "Traceback" not in caught.value.message
    drops.remove()
    assert sent[0] == 3  # parts 1 and 2 went; part 3 was tried

    resumed = count_calls(s3, "UploadPart")
    upload.upload(session, name, big, "run1/train.rec", part_size=5 * MIB)
    assert resumed[0] == 2  # parts 3 and 4 only
    assert s3.get_object(Bucket=name, Key="run1/train.rec")["Body"].read() == big.read_bytes()
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_a_burst_of_throttling_is_waited_out(session, data):
    bucket.ensure_bucket(session, "eu-west-1")
    s3 = session.client("s3")
    Faults(s3, "PutObject", [xml_error(503, "SlowDown", "Please reduce your request rate.")] * 2)
    upload.upload(session, "sagewiz-123456789012-eu-west-1", data / "train.lst", "run1/train.lst")
    assert s3.head_object(Bucket="sagewiz-123456789012-eu-west-1", Key="run1/train.lst")["ContentLength"] > 0


def test_uploading_something_that_is_not_there_says_so(session, tmp_path):
    with pytest.raises(InputError, match="no file or folder"):
        upload.upload(session, "b", tmp_path / "missing.rec", "k")
