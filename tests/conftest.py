import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import os

import pytest

# The suggested settings, their reasons and time estimates depend on whether bfloat16 trains faster
# on this CPU (core/local/mixed_precision.py); the tests, snapshots included, read the same on every CPU. The tests of
# bfloat16 itself remove this.
os.environ.setdefault("SAGEWIZ_NO_BF16", "1")
# Likewise the pace this computer trains at (core/local/pace.py): assumed, not measured, so that
# no test spends seconds measuring it and every estimate reads the same. Its own tests remove it.
os.environ.setdefault("SAGEWIZ_ASSUMED_PACE", "small=850,large=20")
from moto_env import point_at_moto


@pytest.fixture(scope="session")
def moto_server():
    """One moto server on 127.0.0.1 for the whole test session (DESIGN.md): its URL.
    Skipped, with the reason, when moto isn't installed."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e .[test])")
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    _evaluate_tls_conditions_as_https()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _evaluate_tls_conditions_as_https() -> None:
    """moto ignores the Condition of a bucket policy statement, so sagewiz's "deny unless HTTPS"
    statement would deny everything. Real S3 evaluates it, and boto3 talks HTTPS to real S3; the
    tests talk plain HTTP to moto on 127.0.0.1. So the tests evaluate that condition as real AWS
    would for an HTTPS request: the statement doesn't apply. Other statements are moto's business."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(bucket, action, resource):
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(bucket.policy)
        statements = policy.get("Statement", [])
        statements = [statement for statement in (statements if isinstance(statements, list) else [statements])
                      if statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") != "false"]
        if not statements:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": statements})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


@pytest.fixture
def aws_env(moto_server, monkeypatch, tmp_path):
    """A clean moto account: every AWS call of the test goes to the moto server (reset first),
    with fake credentials, and no real AWS configuration file is read. Returns the server URL."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).read()
    return point_at_moto(moto_server, monkeypatch, tmp_path)


@pytest.fixture
def fake_aws(aws_env, monkeypatch):
    """Every AwsSession opened during the test (by the test, the CLI or the wizard) talks to
    FakeAws (tests/aws_fakes.py) for Service Quotas and Pricing, and to moto for everything else."""
    from aws_fakes import FakeAws
    from sagewiz.core.aws.session import AwsSession

    fake = FakeAws()
    original = AwsSession.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        fake.attach(self)

    monkeypatch.setattr(AwsSession, "__init__", init)
    return fake


@pytest.fixture(scope="module")
def float32_inference():
    """The float32 inference form for a whole module (SAGEWIZ_NO_BF16=1, inherited by the endpoints it
    starts): its tests compare answers from different paths at 1e-5, and a CPU where bfloat16 measures
    faster at load would answer within 1e-2 only (tests/test_inference_form.py holds it to that)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAGEWIZ_NO_BF16", "1")
        yield


@pytest.fixture(autouse=True)
def _torch_threads_put_back():
    """Each test leaves torch's thread count as it found it: a form ONNX Runtime answers with keeps
    torch to one thread (core/local/inference.py), which would slow every later test in this process."""
    torch = sys.modules.get("torch")  # never imported here: tests without torch stay without it
    before = torch.get_num_threads() if torch else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)
