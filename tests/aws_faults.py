"""Make one AWS operation answer with errors, for testing how sagewiz copes (DESIGN.md: faults are
injected with before-send hooks, since moto can't produce them)."""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def json_error(status: int, code: str, message: str) -> AWSResponse:
    """An error answer of a JSON-protocol service (SageMaker, Logs, STS uses XML: see xml_error)."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse("https://fault.invalid", status, {"x-amzn-errortype": code, "content-type": "application/x-amz-json-1.1"}, _Raw(body))


def xml_error(status: int, code: str, message: str) -> AWSResponse:
    """An error answer of a query/REST-XML service (STS, IAM, S3)."""
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>fault</RequestId></ErrorResponse>").encode()
    return AWSResponse("https://fault.invalid", status, {"content-type": "text/xml"}, _Raw(body))


class Faults:
    """``Faults(client, "CreateTrainingJob", [json_error(...), ...])`` answers the next calls of the
    operation with those responses (including botocore's own retries), then lets calls through.
    ``calls`` counts every attempt that reached the hook."""

    def __init__(self, client: Any, operation: str, responses: list[AWSResponse | Exception]):
        self.responses = list(responses)
        self.calls = 0
        self.event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        self.client = client
        client.meta.events.register(self.event, self)

    def __call__(self, **_: Any):
        self.calls += 1
        if self.responses:
            answer = self.responses.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return None

    def remove(self) -> None:
        self.client.meta.events.unregister(self.event, self)


def count_calls(client: Any, operation: str) -> list[int]:
    """A one-item list that counts the calls of ``operation`` made through ``client``."""
    seen = [0]

    def counter(**_: Any) -> None:
        seen[0] += 1

    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", counter)
    return seen
