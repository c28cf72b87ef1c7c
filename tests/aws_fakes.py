"""Service Quotas and the Pricing API as a test wants them to answer.

moto models STS (who am I) but neither Service Quotas for SageMaker nor the Pricing API, so
:class:`FakeAws` answers those two from tables the test fills in (a ``before-send`` hook on every
session sagewiz opens — the ``fake_aws`` fixture in conftest.py — so it also works when the CLI
or the wizard opens the session itself).
"""

from __future__ import annotations

import json
import re
import zlib

from aws_faults import _Raw
from botocore.awsrequest import AWSResponse

from sagewiz.core.aws.session import AwsSession


def json_answer(body: dict) -> AWSResponse:
    return AWSResponse("https://fake.invalid", 200, {"content-type": "application/x-amz-json-1.1"},
                       _Raw(json.dumps(body).encode()))


def price_item(region: str, instance_type: str, component: str, usd: float) -> str:
    """One Pricing API PriceList entry, shaped like AWS's (a JSON string)."""
    return json.dumps({
        "product": {"productFamily": "ML Instance",
                    "attributes": {"regionCode": region, "instanceName": instance_type,
                                   "instanceType": f"{instance_type}-{component}", "platoinstancetype": component}},
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {"SKU.JRTCKXETXF": {"priceDimensions": {"SKU.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs", "description": f"${usd} per hour", "pricePerUnit": {"USD": f"{usd:.10f}"}}}}}},
    })


class FakeAws:
    """Service Quotas and the Pricing API as a test wants them to answer."""

    def __init__(self):
        self.quotas: dict[str, dict[str, float]] = {}  # region → quota name → value
        self.quota_errors: dict[str, AWSResponse] = {}  # region → the error Service Quotas answers there
        self.prices: dict[tuple[str, str], dict[str, float]] = {}  # (region, "Training"/"Hosting") → type → USD
        self.pricing_error: AWSResponse | None = None
        self.requests: list[dict] = []  # what RequestServiceQuotaIncrease was asked
        self.calls: list[tuple[str, str]] = []  # (operation, region)

    def attach(self, session: AwsSession) -> AwsSession:
        session.boto.events.register("before-send", self.answer)
        return session

    @staticmethod
    def code(name: str) -> str:
        return "L-" + format(zlib.crc32(name.encode()), "08X")

    def answer(self, request, event_name: str, **_):
        operation = event_name.rsplit(".", 1)[-1]
        if ".service-quotas." not in event_name and ".pricing." not in event_name:
            return None  # STS and the rest: moto answers
        region = re.search(r"Credential=[^/]+/\d+/([^/]+)/", str(request.headers["Authorization"])).group(1)
        body = json.loads(request.body or b"{}")
        self.calls.append((operation, region))
        if operation == "GetProducts":
            if self.pricing_error is not None:
                return self.pricing_error
            fields = {f["Field"]: f["Value"] for f in body["Filters"]}
            table = self.prices.get((fields["regionCode"], fields["platoinstancetype"]), {})
            return json_answer({"FormatVersion": "aws_v1", "PriceList": [
                price_item(fields["regionCode"], name, fields["platoinstancetype"], usd) for name, usd in table.items()
                if fields.get("instanceName", name) == name]})
        if region in self.quota_errors:
            return self.quota_errors[region]
        quotas = self.quotas.get(region, {})
        if operation == "ListServiceQuotas":
            return json_answer({"Quotas": [{"ServiceCode": "sagemaker", "QuotaCode": self.code(name), "QuotaName": name,
                                            "Value": value, "Unit": "None", "Adjustable": True}
                                           for name, value in quotas.items()]})
        if operation == "ListAWSDefaultServiceQuotas":
            return json_answer({"Quotas": []})
        if operation == "RequestServiceQuotaIncrease":
            self.requests.append(body)
            return json_answer({"RequestedQuota": {"Id": "req-0001", "Status": "PENDING", "ServiceCode": "sagemaker",
                                                   "QuotaCode": body["QuotaCode"], "DesiredValue": body["DesiredValue"]}})
        raise AssertionError(f"FakeAws doesn't know {operation}")
