"""The monitor's scenes for the snapshot tests and screenshots (tests/tui_scenes.py lists them):
the tutorial's leftovers as a recorded snapshot, a job's detail and a tuning job's trials as they
were read, so that every picture is the same on every run and in every time zone.

The screens are the real ones; only what they would ask AWS is handed to them, as in the wizard's
recorded scenes: a :class:`RecordedMonitor` in place of the Monitor, detail screens whose reading
workers show fixed answers, and a clock three seconds after the snapshot was taken.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sagewiz.core.backend import Channel, JobStatus, LogEvent, StatusChange, Trial, TuningJob
from sagewiz.core.monitor.detail import TrainingDetail
from sagewiz.core.monitor.model import ENDPOINT, KINDS, NOTEBOOK, TRAINING, TRANSFORM, TUNING, Item, Section, Snapshot

NOW = datetime(2026, 12, 2, 15, 0).astimezone()  # the user's clock: the same picture in every time zone
TAKEN = NOW.timestamp()
P3, P2, M5_XL, M5_L, T2 = 3.825, 1.125, 0.23, 0.115, 0.0464
SOURCE = "bundled table (2026-11)"


def _item(name, kind, status, instance, hours, per_hour, *, count=1, ended_hours=None, ours=False, **more) -> Item:
    started = NOW - timedelta(hours=hours)
    end = NOW - timedelta(hours=ended_hours) if ended_hours is not None else None
    duration = ((end or NOW) - started).total_seconds()
    price = more.pop("price", per_hour)
    so_far = more.pop("so_far", duration / 3600 * price * count)
    return Item(name=name, kind=kind, status=status, region="us-east-1", instance_type=instance, instance_count=count,
                started=started, ended=end, duration_s=duration, cost_per_hour=per_hour * (count if per_hour else 1),
                cost_so_far=so_far, cost_today=so_far, price_source=SOURCE, made_by_sagewiz=ours, **more)


def tutorial_items() -> dict[str, list[Item]]:
    """What the tutorial left running, and what sagewiz made beside it."""
    return {
        TRAINING: [
            _item("ic-tuning-002-abcdef02", TRAINING, "InProgress", "ml.p3.2xlarge", 0.5, P3, parent="ic-tuning",
                  details={"secondary_status": "Training"}),
            _item("ic-tuning-001-abcdef01", TRAINING, "InProgress", "ml.p3.2xlarge", 1, P3, parent="ic-tuning",
                  details={"secondary_status": "Training"}),
            _item("notebook-started-training", TRAINING, "InProgress", "ml.p2.xlarge", 2, P2,
                  details={"secondary_status": "Training"}),
            _item("sagewiz-5e1f2a3b-train", TRAINING, "Completed", "ml.g4dn.xlarge", 4, 0.0, price=0.736, ended_hours=3.8,
                  ours=True),
            _item("ic-tutorial-2026-11-30", TRAINING, "Completed", "ml.p3.2xlarge", 26, 0.0, price=P3, ended_hours=25.5),
        ],
        TUNING: [_item("ic-tuning", TUNING, "InProgress", "ml.p3.2xlarge", 1.1, P3, count=2, so_far=5.74,
                       note="2 of 6 trials running")],
        TRANSFORM: [_item("batch-predictions", TRANSFORM, "Completed", "ml.m5.xlarge", 20, 0.0, price=M5_XL, ended_hours=19.9)],
        ENDPOINT: [_item("image-classification-ep", ENDPOINT, "InService", "ml.m5.xlarge", 27, M5_XL,
                         details={"models": ["image-classification-ep-model"]}),
                   _item("sagewiz-5e1f2a3b-endpoint", ENDPOINT, "InService", "ml.m5.large", 0.4, M5_L, ours=True)],
        NOTEBOOK: [_item("tutorial-notebook", NOTEBOOK, "InService", "ml.t2.medium", 29, T2, note="cost since it last started")],
    }


class RecordedMonitor:
    """Stands in for :class:`Monitor`: every refresh is the same snapshot, taken at ``TAKEN``;
    ``throttled`` names a kind AWS asked to slow down for, shown as read 40 s before."""

    backend, ledger = "aws", None

    def __init__(self, throttled: str | None = None):
        self.throttled = throttled
        self.next_refresh_s = 20.0 if throttled else 10.0
        self.session = type("Session", (), {"region": "us-east-1", "profile": None})()

    @property
    def regions(self) -> tuple[str, ...]:
        return ("us-east-1",)

    def refresh(self, only=None) -> Snapshot:
        items = tutorial_items()
        sections = []
        for kind in KINDS:
            section = Section("us-east-1", kind, tuple(items[kind]), updated_at=TAKEN, fresh=True)
            if kind == self.throttled:
                section = replace(section, updated_at=TAKEN - 40, fresh=False, slowed_down=True,
                                  problem=f"AWS asked sagewiz to slow down while listing the {kind.replace('-', ' ')}s "
                                          "(throttling); it will ask again later.")
            sections.append(section)
        return Snapshot("aws", ("us-east-1",), tuple(sections), TAKEN, api_calls=16, next_refresh_s=self.next_refresh_s)

    def close(self) -> None:
        pass


def clock() -> float:
    return TAKEN + 3


def monitor_app(throttled: str | None = None):
    from sagewiz.tui.monitor_app import MonitorApp

    return lambda workdir: MonitorApp(RecordedMonitor(throttled), clock=clock)


# A job's detail, as it was read ---------------------------------------------------------------------

def _at(minutes: float) -> float:
    return (NOW - timedelta(hours=2) + timedelta(minutes=minutes)).timestamp()


JOB_DETAIL = TrainingDetail(
    name="notebook-started-training", status="InProgress", secondary_status="Training", finished=False,
    history=(StatusChange("Starting", _at(0), "Preparing the instances for training"),
             StatusChange("Downloading", _at(3), "Downloading input data"),
             StatusChange("Training", _at(6), "Training image download completed. Training in progress.")),
    hyperparameters={"num_layers": "18", "num_classes": "2", "num_training_samples": "1000", "image_shape": "3,224,224",
                     "mini_batch_size": "64", "epochs": "10", "learning_rate": "0.01", "top_k": "2",
                     "use_pretrained_model": "1"},
    channels=(Channel("train", "s3://tutorial-bucket/ic/train/", "application/x-recordio"),
              Channel("validation", "s3://tutorial-bucket/ic/validation/", "application/x-recordio")),
    algorithm="811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1")
EPOCHS = ((0.712, 0.688), (0.834, 0.801), (0.889, 0.853), (0.921, 0.874), (0.944, 0.892), (0.958, 0.897))


def job_log() -> list[LogEvent]:
    stream = "notebook-started-training/algo-1-1764680400"
    lines = ["[12/02/2026 13:06:12 INFO 140] Reading the data from /opt/ml/input/data/train",
             "[12/02/2026 13:06:13 INFO 140] Using pretrained model ResNet-18, 2 classes"]
    for epoch, (train, validation) in enumerate(EPOCHS):
        lines += [f"[12/02/2026 13:{10 + epoch * 9}:41 INFO 140] Epoch[{epoch}] Train-accuracy={train:.6f}",
                  f"[12/02/2026 13:{10 + epoch * 9}:41 INFO 140] Epoch[{epoch}] Time cost=532.117",
                  f"[12/02/2026 13:{10 + epoch * 9}:55 INFO 140] Epoch[{epoch}] Validation-accuracy={validation:.6f}"]
    return [LogEvent(0.0, line, stream) for line in lines]


def _replayed_job():
    from sagewiz.tui.screens.monitor_job import MonitorJobScreen

    def read_detail(self) -> None:
        self.show_detail(JOB_DETAIL)

    def follow(self) -> None:
        for event in job_log():
            self.show_line(event)

    return type("MonitorJobScreen", (MonitorJobScreen,), {"read_detail": read_detail, "follow": follow})


TRIALS = TuningJob("ic-tuning", JobStatus.IN_PROGRESS, (
    Trial("ic-tuning-001-abcdef01", JobStatus.COMPLETED, {"learning_rate": "0.0132", "mini_batch_size": "32"}, 0.912),
    Trial("ic-tuning-002-abcdef02", JobStatus.STOPPED, {"learning_rate": "0.4410", "mini_batch_size": "8"}, None, True),
    Trial("ic-tuning-003-abcdef03", JobStatus.COMPLETED, {"learning_rate": "0.0031", "mini_batch_size": "64"}, 0.874),
    Trial("ic-tuning-004-abcdef04", JobStatus.IN_PROGRESS, {"learning_rate": "0.0207", "mini_batch_size": "16"}),
    Trial("ic-tuning-005-abcdef05", JobStatus.IN_PROGRESS, {"learning_rate": "0.0094", "mini_batch_size": "48"})))
TRIALS = replace(TRIALS, best=TRIALS.trials[0])


def _replayed_tuning():
    from sagewiz.tui.screens.monitor_tuning import MonitorTuningScreen

    def read_trials(self) -> None:
        self.show_trials(TRIALS)

    return type("MonitorTuningScreen", (MonitorTuningScreen,), {"read_trials": read_trials})


# How the user gets there -------------------------------------------------------------------------------

async def to_monitor(pilot) -> None:
    from pilot_steps import wait_for
    from tui_scenes import settle

    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "MonitorScreen" and pilot.app.screen.snapshot)
    await settle(pilot)


async def _pick(pilot, name: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#resources").move_cursor(row=next(n for n, k in enumerate(screen.keys) if k.endswith(f":{name}")))
    await pilot.pause()


async def to_monitor_job(pilot) -> None:
    """A training job started from the tutorial's notebook, six epochs in, followed live."""
    from pilot_steps import wait_for
    from tui_scenes import settle

    await to_monitor(pilot)
    home = pilot.app.screen
    item = next(i for i in home.snapshot.items if i.name == JOB_DETAIL.name)
    pilot.app.push_screen(_replayed_job()(home, item))
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "MonitorJobScreen" and pilot.app.screen.detail)
    await settle(pilot)


async def to_monitor_tuning(pilot) -> None:
    from pilot_steps import wait_for
    from tui_scenes import settle

    await to_monitor(pilot)
    home = pilot.app.screen
    item = next(i for i in home.snapshot.items if i.name == "ic-tuning")
    pilot.app.push_screen(_replayed_tuning()(home, item))
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "MonitorTuningScreen" and pilot.app.screen.tuning)
    await settle(pilot)


async def to_monitor_stop_question(pilot) -> None:
    """n on the forgotten notebook instance: the question names what it bills (no AWS is asked)."""
    from pilot_steps import wait_for
    from tui_scenes import settle

    from sagewiz.core.monitor.actions import Action

    await to_monitor(pilot)
    await _pick(pilot, "tutorial-notebook")
    home = pilot.app.screen
    item = home.picked()
    home._confirm_action(Action("stop", item, T2, "Stop the notebook instance tutorial-notebook (ml.t2.medium × 1)? It "
                                "bills $0.046/hour now; that stops. Its storage volume stays (and bills per GB-month) "
                                "until the instance is deleted."))
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmScreen")
    await settle(pilot)


def something_running(workdir: Path):
    """The wizard's answers, and an endpoint sagewiz left running on SageMaker yesterday."""
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.state import WizardState

    with Ledger() as ledger:
        record = ledger.intend("aws", "endpoint", "sagewiz-5e1f2a3b-endpoint", region="us-east-1")
        ledger.update(record.id, state="active", cost_per_hour=M5_L)
    return WizardState()
