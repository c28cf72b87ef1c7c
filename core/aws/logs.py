"""A training job's CloudWatch log, live: every stream of the job, each followed with its own token.

SageMaker writes one stream per instance, ``<job>/algo-1-<epoch-seconds>``, and creates them
only when the instances start, so the streams are looked up again on every poll. CloudWatch's
``get_log_events`` answers with the same ``nextForwardToken`` once a stream has no newer events:
that is how the end of a stream is recognised.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.backend import LogEvent

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
POLL_SECONDS = 5.0


class LogFollower:
    """Reads a job's streams from where it last stopped; ``poll()`` returns the new lines."""

    def __init__(self, logs_client: Any, job_name: str, group: str = TRAINING_LOG_GROUP):
        self.client, self.job_name, self.group = logs_client, job_name, group
        self.tokens: dict[str, str | None] = {}

    def streams(self) -> list[str]:
        """The job's stream names ('<job>/…'; the slash keeps job-1 from matching job-10)."""
        names: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": f"{self.job_name}/"}
        with translated(f"list the log streams of {self.job_name}"):
            try:
                while True:
                    page = self.client.describe_log_streams(**kwargs)
                    names += [s["logStreamName"] for s in page.get("logStreams", [])]
                    if not page.get("nextToken"):
                        return names
                    kwargs["nextToken"] = page["nextToken"]
            except Exception as error:  # the group appears with the first job's first line
                if error_code(error) == "ResourceNotFoundException":
                    return []
                raise

    def poll(self) -> list[LogEvent]:
        """Every line written since the last poll, oldest first across streams."""
        events: list[LogEvent] = []
        for stream in self.streams():
            token = self.tokens.get(stream)
            while True:
                kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": stream, "startFromHead": True}
                if token:
                    kwargs["nextToken"] = token
                with translated(f"read the log of {self.job_name}"):
                    page = self.client.get_log_events(**kwargs)
                events += [LogEvent(e["timestamp"] / 1000, e["message"], stream) for e in page.get("events", [])]
                new_token = page.get("nextForwardToken")
                if not new_token or new_token == token:
                    break
                token = new_token
            self.tokens[stream] = token
        events.sort(key=lambda e: e.timestamp)
        return events


def follow(logs_client: Any, job_name: str, finished: Callable[[], bool], *, keep_following: bool = True,
           poll_seconds: float = POLL_SECONDS, sleep: Callable[[float], None] = time.sleep,
           group: str = TRAINING_LOG_GROUP) -> Iterator[LogEvent]:
    """The job's lines from the start. With ``keep_following``, wait for more until ``finished()``
    says the job is over, then read once more so the last lines are never lost."""
    follower = LogFollower(logs_client, job_name, group)
    while True:
        over = finished() if keep_following else True  # asked before reading: no line written after is missed
        yield from follower.poll()
        if over:
            return
        sleep(poll_seconds)
