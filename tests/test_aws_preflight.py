"""Before spending money on AWS, a person asks: where can I train, on what, at what price?

moto models STS (who am I) but neither Service Quotas for SageMaker nor the Pricing API, so
:class:`FakeAws` answers those two from tables the test fills in (a ``before-send`` hook on every
session sagewiz opens, so it also works when the CLI opens the session itself).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from aws_fakes import FakeAws
from aws_faults import json_error

from sagewiz.core.aws import catalog, preflight
from sagewiz.core.aws.session import AwsSession
from sagewiz.core.errors import CredentialsError, InputError, NotFoundError

BUNDLED = f"bundled table ({catalog.BUNDLED_PRICES_AS_OF})"


def training(region: str, **values: float) -> dict[str, float]:
    """Quota names for training: ``training("…", g4dn_xlarge=1)`` → ``{"ml.g4dn.xlarge for training job usage": 1}``."""
    return {f"ml.{name.replace('_', '.')} for training job usage": float(value) for name, value in values.items()}


def endpoint(**values: float) -> dict[str, float]:
    return {f"ml.{name.replace('_', '.')} for endpoint usage": float(value) for name, value in values.items()}


NEW_ACCOUNT_US_EAST_2 = {**training("us-east-2", p2_xlarge=0, p3_2xlarge=0, g4dn_xlarge=0, g5_xlarge=0),
                         **endpoint(m5_large=0, c5_large=0, g4dn_xlarge=0)}


@pytest.fixture
def account_with_a_g4dn(fake_aws):
    """us-east-1 where the account may train on one g4dn.xlarge or two p3.2xlarge, and host on m5.large."""
    fake_aws.quotas["us-east-1"] = {
        **training("us-east-1", p2_xlarge=0, p3_2xlarge=2, g4dn_xlarge=1, g5_xlarge=0, p5_48xlarge=4),
        **endpoint(m5_large=2, c5_large=0, g4dn_xlarge=0, t2_medium=5),
        "ml.g4dn.xlarge for spot training job usage": 3.0,
        "ml.g4dn.xlarge for processing job usage": 5.0,
        "Maximum number of training jobs": 100.0,
    }
    fake_aws.prices[("us-east-1", "Training")] = {"ml.p2.xlarge": 0.9, "ml.p3.2xlarge": 3.825,
                                                  "ml.g4dn.xlarge": 0.7364, "ml.g5.xlarge": 1.408}
    fake_aws.prices[("us-east-1", "Hosting")] = {"ml.m5.large": 0.115, "ml.c5.large": 0.102, "ml.g4dn.xlarge": 0.7364}
    return fake_aws


# ---- one region --------------------------------------------------------------------------------

def test_a_ready_region_recommends_the_cheapest_gpu_type_the_account_has_quota_for(account_with_a_g4dn):
    report = preflight.region_report(AwsSession(region="us-east-1"), "us-east-1")

    assert report.verdict == "ready" and report.algorithm_available
    # p2.xlarge is cheaper but its quota is 0: the recommendation is the cheapest usable type
    assert report.recommended_training == "ml.g4dn.xlarge"
    assert report.recommended_hosting == "ml.m5.large"  # c5.large is cheaper, quota 0
    by_type = {o.instance_type: o for o in report.training}
    # only the GPU families the algorithm trains on; spot/processing/other quotas are not training offers
    assert set(by_type) == {"ml.p2.xlarge", "ml.p3.2xlarge", "ml.g4dn.xlarge", "ml.g5.xlarge"}
    g4dn = by_type["ml.g4dn.xlarge"]
    assert (g4dn.gpus, g4dn.gpu_memory_gib, g4dn.quota) == (1, 16.0, 1)
    assert (g4dn.price_per_hour, g4dn.price_source) == (pytest.approx(0.7364), "pricing-api")
    assert by_type["ml.g5.xlarge"].gpu_memory_gib == 24.0  # missing from the SDK's GPU table, known anyway
    assert [o.instance_type for o in report.hosting] == ["ml.c5.large", "ml.m5.large", "ml.g4dn.xlarge"]
    assert "ml.t2.medium" not in {o.instance_type for o in report.hosting}
    assert any("ml.g4dn.xlarge" in note and "$0.736" in note for note in report.notes)
    assert ("GetProducts", "us-east-1") in account_with_a_g4dn.calls  # the Pricing API lives in us-east-1


def test_a_new_account_with_quota_0_everywhere_is_told_how_to_ask_for_more(fake_aws):
    fake_aws.quotas["us-east-2"] = NEW_ACCOUNT_US_EAST_2

    report = preflight.region_report(AwsSession(region="us-east-2"), "us-east-2", use_pricing=False)

    assert report.verdict == "no quota"
    assert report.recommended_training is None and report.recommended_hosting is None
    assert all(o.quota == 0 for o in report.training + report.hosting)
    assert all(o.price_source == BUNDLED for o in report.training)
    assert any("Quota is 0 for every GPU training type here: request an increase "
               "(sagewiz regions --request-quota ml.g4dn.xlarge --region us-east-2)" in note for note in report.notes)
    assert any("--usage hosting --region us-east-2" in note for note in report.notes)
    assert not any(op == "GetProducts" for op, _ in fake_aws.calls)  # use_pricing=False asks no prices


def test_a_region_without_gpu_types_has_no_capacity(fake_aws):
    fake_aws.quotas["ap-northeast-3"] = endpoint(m5_large=2)

    report = preflight.region_report(AwsSession(region="ap-northeast-3"), "ap-northeast-3", use_pricing=False)

    assert report.verdict == "no capacity" and report.training == ()
    assert report.recommended_hosting == "ml.m5.large"
    assert any("choose another region" in note for note in report.notes)


@pytest.mark.parametrize("region", ["mx-central-1", "mars-north-1"])
def test_a_region_without_the_algorithm_says_so_without_asking_aws(fake_aws, region):
    report = preflight.region_report(AwsSession(region="us-east-1"), region)

    assert report.verdict == "algorithm missing" and not report.algorithm_available
    assert report.training == report.hosting == ()
    assert "us-east-1" in report.notes[0] and region in report.notes[0]
    assert fake_aws.calls == []


def test_when_the_pricing_api_fails_the_bundled_table_says_where_prices_came_from(account_with_a_g4dn):
    account_with_a_g4dn.pricing_error = json_error(400, "AccessDeniedException", "not authorized to perform pricing:GetProducts")

    report = preflight.region_report(AwsSession(region="us-east-1"), "us-east-1")

    assert report.verdict == "ready" and report.recommended_training == "ml.g4dn.xlarge"
    g4dn = next(o for o in report.training if o.instance_type == "ml.g4dn.xlarge")
    assert (g4dn.price_per_hour, g4dn.price_source) == (catalog.bundled_price("us-east-1", "ml.g4dn.xlarge"), BUNDLED)
    assert BUNDLED == "bundled table (2026-11)"
    assert any("Pricing API" in note and "pricing:GetProducts" in note for note in report.notes)


def test_a_type_the_pricing_api_has_no_price_for_falls_back_to_the_table(account_with_a_g4dn):
    del account_with_a_g4dn.prices[("us-east-1", "Training")]["ml.p3.2xlarge"]

    report = preflight.region_report(AwsSession(region="us-east-1"), "us-east-1")

    sources = {o.instance_type: o.price_source for o in report.training}
    assert sources["ml.p3.2xlarge"] == BUNDLED and sources["ml.g4dn.xlarge"] == "pricing-api"


def test_one_types_price_is_asked_by_instance_name(account_with_a_g4dn):
    session = AwsSession(region="us-east-1")

    assert preflight.instance_price(session, "us-east-1", "ml.m5.large", "hosting") == (pytest.approx(0.115), "pricing-api")
    account_with_a_g4dn.pricing_error = json_error(400, "AccessDeniedException", "denied")
    assert preflight.instance_price(session, "eu-west-1", "ml.g4dn.xlarge") == \
        (catalog.bundled_price("eu-west-1", "ml.g4dn.xlarge"), BUNDLED)


def test_when_service_quotas_is_denied_the_gpu_table_stands_in_with_unknown_quotas(fake_aws):
    fake_aws.quota_errors["eu-west-1"] = json_error(400, "AccessDeniedException",
                                                    "not authorized to perform servicequotas:ListServiceQuotas")

    report = preflight.region_report(AwsSession(region="eu-west-1"), "eu-west-1", use_pricing=False)

    assert report.verdict == "ready"  # unknown quota may well be enough: say so, don't block
    assert report.training and all(o.quota is None for o in report.training)
    assert {o.instance_type for o in report.training} == set(catalog.training_types("eu-west-1"))
    assert report.recommended_training == "ml.g4dn.xlarge"  # cheapest in the bundled table
    assert any("Couldn't read your SageMaker quotas in eu-west-1" in note and "unknown" in note for note in report.notes)


def test_without_credentials_the_person_is_told_to_sign_in(aws_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    session = AwsSession(region="us-east-1")

    with pytest.raises(CredentialsError) as one:
        preflight.region_report(session, "us-east-1")
    with pytest.raises(CredentialsError) as every:
        preflight.all_region_reports(session, ["us-east-1", "eu-west-1"])

    for caught in (one, every):
        assert "no AWS credentials were found" in caught.value.message
        assert "aws configure" in caught.value.hint


def test_a_profile_that_doesnt_exist_is_named_with_how_to_make_it(monkeypatch, tmp_path):
    """`--profile nope` was answered "there is no AWS profile called 'that'"."""
    (tmp_path / "config").write_text("[profile work]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with pytest.raises(CredentialsError) as given:
        AwsSession(profile="nope")
    monkeypatch.setenv("AWS_PROFILE", "nope")  # the same, named by the environment
    with pytest.raises(CredentialsError) as from_environment:
        AwsSession()
    for caught in (given, from_environment):
        assert "there is no AWS profile called 'nope'" in caught.value.message
        assert "`aws configure list-profiles`" in caught.value.hint and "`aws configure --profile nope`" in caught.value.hint


# ---- every region --------------------------------------------------------------------------------

def test_all_regions_are_checked_in_parallel_and_one_failing_region_does_not_spoil_the_rest(account_with_a_g4dn):
    fake = account_with_a_g4dn
    fake.quotas["us-east-2"] = NEW_ACCOUNT_US_EAST_2
    fake.quota_errors["af-south-1"] = json_error(400, "UnrecognizedClientException",
                                                 "The security token included in the request is invalid.")
    asked = ["us-east-1", "us-east-2", "af-south-1", "mx-central-1"]

    reports = preflight.all_region_reports(AwsSession(region="us-east-1"), asked, workers=4)

    assert [r.region for r in reports] == asked
    assert [r.verdict for r in reports] == ["ready", "no quota", "no capacity", "algorithm missing"]
    assert "opt-in region" in reports[2].notes[0]


def test_by_default_every_algorithm_region_of_the_partition_is_checked(fake_aws):
    reports = preflight.all_region_reports(AwsSession(region="eu-west-1"), use_pricing=False)

    regions = [r.region for r in reports]
    assert "us-east-1" in regions and "ap-northeast-3" in regions
    assert not any(r.startswith(("cn-", "us-gov-", "us-iso")) for r in regions)
    assert len(regions) == len([r for r in catalog.algorithm_regions() if catalog.partition(r) == "aws"])


# ---- asking for more quota ----------------------------------------------------------------------

def test_a_quota_increase_is_requested_with_the_code_found_by_name(fake_aws):
    fake_aws.quotas["us-east-2"] = NEW_ACCOUNT_US_EAST_2

    answer = preflight.request_quota_increase(AwsSession(region="us-east-2"), "us-east-2", "ml.g4dn.xlarge")

    assert answer == "req-0001 (PENDING)"
    assert fake_aws.requests == [{"ServiceCode": "sagemaker", "DesiredValue": 1.0,
                                  "QuotaCode": FakeAws.code("ml.g4dn.xlarge for training job usage")}]


def test_no_request_is_sent_when_the_quota_is_already_enough_or_the_type_isnt_offered(account_with_a_g4dn):
    session = AwsSession(region="us-east-1")

    with pytest.raises(InputError, match="already 2"):
        preflight.request_quota_increase(session, "us-east-1", "ml.p3.2xlarge", desired=2)
    with pytest.raises(NotFoundError, match="isn't offered"):
        preflight.request_quota_increase(session, "us-east-1", "ml.g5.48xlarge")
    assert account_with_a_g4dn.requests == []


# ---- the command line -----------------------------------------------------------------------------

def test_cli_prints_the_reports_as_json(account_with_a_g4dn, capsys):
    from sagewiz.tui.cli import main

    assert main(["regions", "--region", "us-east-1", "--json"]) == 0

    out, err = capsys.readouterr()
    reports = json.loads(out)
    assert [r["region"] for r in reports] == ["us-east-1"]
    assert reports[0]["verdict"] == "ready" and reports[0]["recommended_training"] == "ml.g4dn.xlarge"
    assert {"instance_type", "gpus", "gpu_memory_gib", "quota", "price_per_hour", "price_source"} <= set(reports[0]["training"][0])
    assert "arn:aws:" in err and "123456789012" in err  # who is signed in, shown first (on stderr)


def test_cli_table_highlights_the_best_region(account_with_a_g4dn, capsys):
    from sagewiz.tui.cli import main

    account_with_a_g4dn.quotas["us-east-2"] = NEW_ACCOUNT_US_EAST_2
    assert main(["regions", "--region", "us-east-1", "--region", "us-east-2"]) == 0

    out, err = capsys.readouterr()
    assert out == ""
    assert err.index("Signed in as") < err.index("us-east-1")
    assert "★ us-east-1" in err and "no quota" in err
    assert "Best choice:" in err and "ml.g4dn.xlarge" in err


def test_cli_requests_a_quota_with_yes(fake_aws, capsys):
    from sagewiz.tui.cli import main

    fake_aws.quotas["us-east-2"] = NEW_ACCOUNT_US_EAST_2
    assert main(["regions", "--request-quota", "ml.g4dn.xlarge", "--region", "us-east-2", "--yes"]) == 0

    err = " ".join(capsys.readouterr().err.split())  # rich wraps at the terminal width
    assert "ml.g4dn.xlarge for training job usage" in err and "from 0 to 1" in err
    assert "req-0001 (PENDING)" in err
    assert len(fake_aws.requests) == 1


def test_cli_wont_request_a_quota_without_a_go_ahead(fake_aws, capsys, monkeypatch):
    from sagewiz.tui.cli import main

    fake_aws.quotas["us-east-2"] = NEW_ACCOUNT_US_EAST_2
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal to answer from
    assert main(["regions", "--request-quota", "ml.g4dn.xlarge", "--region", "us-east-2", "--usage", "training"]) == 1

    err = " ".join(capsys.readouterr().err.split())  # rich wraps at the terminal width
    assert "from 0 to 1" in err  # it still says what it would ask
    assert "Add --yes" in err
    assert fake_aws.requests == []


def test_cli_refuses_a_type_the_algorithm_doesnt_use(fake_aws, capsys):
    from sagewiz.tui.cli import main

    assert main(["regions", "--request-quota", "ml.t3.medium", "--region", "us-east-1", "--yes"]) == 1
    assert "isn't an instance type" in " ".join(capsys.readouterr().err.split())
    assert fake_aws.calls == []


# ---- the catalog ------------------------------------------------------------------------------------

def test_the_algorithm_image_is_named_per_region():
    assert catalog.image_uri("us-east-1") == "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    assert catalog.image_uri("ap-northeast-3") == "867004704886.dkr.ecr.ap-northeast-3.amazonaws.com/image-classification:1"
    assert catalog.image_uri("cn-north-1").endswith(".dkr.ecr.cn-north-1.amazonaws.com.cn/image-classification:1")
    with pytest.raises(NotFoundError) as caught:
        catalog.image_uri("mx-central-1")
    assert "us-east-1" in caught.value.hint
    assert len(catalog.algorithm_registries()) == 37


def test_the_bundled_price_table_is_dated_and_covers_the_common_regions():
    assert catalog.bundled_prices_as_of() == catalog.BUNDLED_PRICES_AS_OF == "2026-11"
    for region in ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-2"):
        for instance_type in ("ml.g4dn.xlarge", "ml.p3.2xlarge", "ml.g5.xlarge"):
            assert catalog.bundled_price(region, instance_type, "training") > 0
        for instance_type in catalog.CPU_HOSTING_TYPES:
            assert catalog.bundled_price(region, instance_type, "hosting") > 0
    assert catalog.bundled_price("us-east-1", "ml.m5.large", "training") is None  # the algorithm trains on GPUs
    assert catalog.bundled_price("sa-east-1", "ml.g4dn.xlarge", "training") is None


def test_importing_the_catalog_and_preflight_reads_no_table():
    code = ("from sagewiz.core.aws import catalog, preflight\n"
            "assert catalog.algorithm_registries.cache_info().currsize == 0\n"
            "assert catalog._gpu_table.cache_info().currsize == 0 and catalog._prices.cache_info().currsize == 0\n")
    subprocess.run([sys.executable, "-c", code], check=True)
