"""How much testing a SageMaker model on this computer downloads, said before anything is downloaded (against moto)."""

from __future__ import annotations

import pytest

from sagewiz.core.aws.download import model_size
from sagewiz.core.aws.session import AwsSession
from sagewiz.core.errors import WizardError


def test_the_models_size_is_what_s3_holds(aws_env):
    session = AwsSession(region="us-east-1")
    s3 = session.client("s3")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="run/output/model.tar.gz", Body=b"x" * 123_457)
    uri = "s3://models/run/output/model.tar.gz"
    assert model_size(session, uri) == 123_457


def test_a_model_that_is_not_in_s3_is_said_with_what_to_do(aws_env):
    session = AwsSession(region="us-east-1")
    session.client("s3").create_bucket(Bucket="models")
    with pytest.raises(WizardError) as raised:
        model_size(session, "s3://models/gone/model.tar.gz")
    assert raised.value.hint
