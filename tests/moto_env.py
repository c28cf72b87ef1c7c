"""Pointing a test's AWS calls at the moto server (shared by conftest.py and the tests that
reset less of moto than ``aws_env`` does)."""

from __future__ import annotations


def point_at_moto(moto_server, monkeypatch, tmp_path):
    """Every AWS call of the test (and of the processes it starts) goes to the moto server, with
    fake credentials and no real AWS configuration file. Returns the server URL."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return moto_server
