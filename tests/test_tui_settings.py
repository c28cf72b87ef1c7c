"""The Settings step as a user meets it: suggestions that fit the pictures that get packed, a
schedule that follows the epochs they choose, and their own values from last time marked as theirs."""

from __future__ import annotations

import pytest

from pilot_steps import click, wait_for
from sagewiz.tui.app import SagewizApp
from sagewiz.tui.state import WizardState
from test_tui import run_async


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def digits(tmp_path, classes=(0, 1)) -> str:
    from sagewiz.core.dataset.sample import write_sample_dataset

    write_sample_dataset(tmp_path / "digits", classes=list(classes), seed=1)
    return str(tmp_path / "digits")


def on(app, name: str) -> bool:
    return type(app.screen).__name__ == name


def said(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def to_settings(pilot) -> None:
    """Welcome → the remembered folder checked and packed → this computer → the settings, checked."""
    app = pilot.app
    await wait_for(pilot, lambda: on(app, "WelcomeScreen"))
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on(app, "DatasetScreen") and not app.screen.query_one("#next").disabled,
                   what="the folder checked and packed")
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on(app, "RegionScreen") and not app.screen.query_one("#next").disabled, what="the Where step")
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on(app, "SettingsScreen") and "of training" in said(app, "#verdict"), what="the settings")


async def type_into(pilot, name: str, value: str) -> None:
    pilot.app.screen.query_one(f"#{name}").value = value
    await pilot.pause()


@run_async
async def test_fewer_epochs_move_the_untouched_schedule_and_only_a_typed_one_is_warned_about(tmp_path):
    """Epochs 3 warned 'lr_scheduler_step 10,15 should list increasing epochs below epochs (3)' about
    an Advanced field the user never opened, which `sagewiz run` would have moved with the epochs."""
    app = SagewizApp(WizardState(data_dir=digits(tmp_path)), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_settings(pilot)
        step = app.screen.query_one("#lr_scheduler_step")
        assert step.value == "10,15"  # half and three quarters of the suggested 20 epochs
        await type_into(pilot, "epochs", "8")
        assert step.value == "4,6" and "lr_scheduler_step" not in app.screen._overrides()
        await type_into(pilot, "epochs", "3")
        assert "lr_scheduler_step" not in said(app, "#verdict") and not app.screen.query_one("#next").disabled
        assert step.value == "" and app.screen._overrides() == {"epochs": "3"}
        await type_into(pilot, "lr_scheduler_step", "10,15")  # the user's own schedule: kept, and warned about
        assert "lr_scheduler_step 10,15 should list increasing epochs below epochs (3)" in said(app, "#verdict")
        await type_into(pilot, "epochs", "30")
        assert step.value == "10,15" and app.screen._overrides()["lr_scheduler_step"] == "10,15"


@run_async
async def test_an_emptied_advanced_field_trains_without_that_setting(tmp_path):
    """Emptying the suggested top_k or schedule showed an empty field, but the job got the suggestion."""
    from sagewiz.core.hyperparams import with_overrides

    app = SagewizApp(WizardState(data_dir=digits(tmp_path, classes=(0, 1, 2))), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_settings(pilot)
        assert app.screen.query_one("#top_k").value == "2"
        await type_into(pilot, "top_k", "")
        await type_into(pilot, "lr_scheduler_step", "")
        assert app.screen._overrides() == {"top_k": "", "lr_scheduler_step": ""}
        assert " ".join(said(app, "#top_k-yours").split()) == "suggested 2"
        assert not app.screen.query_one("#next").disabled
        await type_into(pilot, "epochs", "")  # a basic setting can't be left out
        assert "epochs needs a value: a whole number of 1 or more (suggested 20)" in " ".join(said(app, "#verdict").split())
        assert app.screen.query_one("#next").disabled
        await type_into(pilot, "epochs", "20")
        trained_with = with_overrides(app.state.suggested, app.screen._overrides())  # as the journey takes them
        assert trained_with.top_k is None and trained_with.lr_scheduler_step is None


@run_async
async def test_the_settings_count_the_training_pictures_the_pictures_step_packed(tmp_path):
    """The Pictures step packed 259 training pictures, the settings said 'a mini_batch_size of 258
    or less' (an estimate made before the split), and the job was given 259."""
    app = SagewizApp(WizardState(data_dir=digits(tmp_path, classes=(0, 4))), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_settings(pilot)
        packed = app.state.packed.counts["train"]
        assert app.state.suggested.num_training_samples == packed
        await type_into(pilot, "mini_batch_size", "4096")
        assert f"Use a mini_batch_size of {packed} or less" in " ".join(said(app, "#verdict").split())


@run_async
async def test_last_times_values_are_marked_as_yours_and_ctrl_r_brings_back_the_suggestion(tmp_path):
    """Last run's epochs=3 stood under 'Suggested for your pictures' as if it were suggested."""
    last_time = {"epochs": "3", "optimizer": "adam", "num_layers": "18"}  # 18: a depth for photos, not these digits
    app = SagewizApp(WizardState(data_dir=digits(tmp_path), overrides=last_time), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_settings(pilot)
        assert app.screen.query_one("#num_layers").value == "20"  # the suggestion: 18 can't be built at 28 px
        assert " ".join(said(app, "#optimizer-yours").split()) == "yours from last time; suggested sgd"
        app.screen.query_one("#optimizer").focus()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.screen.query_one("#optimizer").value == "sgd" and said(app, "#optimizer-yours") == ""
        assert app.screen.query_one("#epochs").value == "3"
        assert " ".join(said(app, "#epochs-yours").split()) == "yours from last time; suggested 20"
        assert "yours from last time where marked" in " ".join(said(app, ".lead").split())
        assert said(app, "#learning_rate-yours") == ""  # a suggested value says nothing
        await type_into(pilot, "learning_rate", "0.02")  # typed now: the suggestion is named, not 'last time'
        assert " ".join(said(app, "#learning_rate-yours").split()) == "suggested 0.05"
        app.screen.query_one("#epochs").focus()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.screen.query_one("#epochs").value == "20" and said(app, "#epochs-yours") == ""
        assert app.screen.query_one("#lr_scheduler_step").value == "10,15"
        assert app.screen._overrides() == {"learning_rate": "0.02"}
        app.screen.query_one("#next").focus()
        await pilot.press("ctrl+r")  # away from the fields: how to use it
        await wait_for(pilot, lambda: any("ctrl+r" in n.message for n in app._notifications), what="a word on ctrl+r")


def photos(tmp_path) -> str:
    """A beginner's folder: a few dozen photo-sized JPEGs of two classes."""
    import random

    from PIL import Image

    rng = random.Random(1)
    for split, count in (("train", 24), ("test", 6)):
        for label, colour in (("cats", (200, 120, 60)), ("dogs", (60, 90, 200))):
            folder = tmp_path / "photos" / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                shade = tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in colour)
                Image.new("RGB", (320, 240), shade).save(folder / f"{label}.{i}.jpg", quality=85)
    return str(tmp_path / "photos")


@run_async
async def test_photos_here_without_imagenet_weights_are_offered_them_and_then_get_transfer_learning(tmp_path, monkeypatch):
    import onnx
    from test_pretrained import ZooServer, as_zoo, gluon_resnet18_onnx

    data = onnx.load_from_string(gluon_resnet18_onnx().SerializeToString()).SerializeToString()
    as_zoo(monkeypatch, data)
    server = ZooServer({"resnet18-v2-7.onnx": data})
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SAGEWIZ_PRETRAINED_URL", f"http://127.0.0.1:{server.server_port}/models")
    app = SagewizApp(WizardState(data_dir=photos(tmp_path)), unfinished_runs=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await to_settings(pilot)
            assert app.screen.query_one("#use_pretrained_model").value == "0"
            why = said(app, "#why")
            assert "no pretrained network is installed" in why and "expect a modest accuracy" in why
            await click(pilot, "#get-pretrained")
            await wait_for(pilot, lambda: on(app, "SettingsScreen") and app.screen.query("#use_pretrained_model")
                           and app.screen.query_one("#use_pretrained_model").value == "1", what="the weights installed")
            assert not app.screen.query("#get-pretrained")  # nothing left to offer
            assert "transfer learning, use_pretrained_model=1" in said(app, "#why")
            assert app.state.suggested.use_pretrained_model and app.state.suggested.image_shape == "3,224,224"
    finally:
        server.shutdown()
        server.server_close()


async def on_to_the_where_step(pilot, app) -> None:
    """From the Welcome, through the Pictures step (its folder checked and packed), on to Where."""
    await wait_for(pilot, lambda: on(app, "WelcomeScreen"))
    await click(pilot, "#next")
    await wait_for(pilot, lambda: on(app, "DatasetScreen") and not app.screen.query_one("#next").disabled,
                   what="the folder checked and packed")
    await click(pilot, "#next")


@run_async
async def test_a_computer_never_measured_is_measured_once_and_every_estimate_is_at_its_pace(tmp_path, monkeypatch):
    """The estimates were those of the computer they were measured on: a VM three times slower was
    told "about 40 seconds" for a training of 98, and then that the computer was busy."""
    import subprocess
    import threading

    from sagewiz.core.estimates import duration, estimate_minutes
    from sagewiz.core.local import pace

    monkeypatch.delenv(pace.ASSUMED_VARIABLE)
    monkeypatch.setattr(pace, "_failed", set())
    monkeypatch.setattr(pace, "_busy", {})
    measures, finish = [], threading.Event()

    def probe(command, **_):  # the few seconds of training steps: this computer trains 85 pictures/s
        measures.append(command[-1])
        finish.wait(30)
        return subprocess.CompletedProcess(command, 0, stdout="85.00 0.98 0\n", stderr="")

    monkeypatch.setattr(pace.subprocess, "run", probe)
    app = SagewizApp(WizardState(data_dir=digits(tmp_path)), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_to_the_where_step(pilot, app)
        await wait_for(pilot, lambda: on(app, "RegionScreen") and "Measuring how fast this computer trains" in said(app, "#status"),
                       what="this computer being measured")
        await click(pilot, "#next")  # on before the measure ends: the settings wait for the same measure
        await wait_for(pilot, lambda: on(app, "SettingsScreen") and "Measuring how fast" in said(app, "#verdict"),
                       what="the settings waiting for the measure")
        finish.set()
        await wait_for(pilot, lambda: "of training on this computer" in said(app, "#verdict"), what="the estimate")
        hp = app.state.suggested
        at_its_pace = hp.epochs * hp.num_training_samples / 85 / 60
        assert estimate_minutes(hp) == pytest.approx(at_its_pace)
        assert f"About {duration(at_its_pace)} of training on this computer" in said(app, "#verdict")
        await click(pilot, "#back")
        await wait_for(pilot, lambda: on(app, "RegionScreen") and "should take about" in said(app, "#status"), what="the Where step")
        assert f"should take about {duration(at_its_pace)} here" in said(app, "#status")
    assert measures == ["small"]  # measured once, and remembered for the next time


@run_async
async def test_mixed_precision_measured_faster_on_the_where_step_is_what_the_settings_suggest(tmp_path, monkeypatch):
    """The Where step measures this computer; where bfloat16 measured faster there, the settings
    it leads to suggest it and say by how much, and both steps say the time at its pace."""
    import subprocess

    from sagewiz.core.estimates import duration, estimate_minutes
    from sagewiz.core.local import cores, pace

    monkeypatch.delenv(pace.ASSUMED_VARIABLE)
    monkeypatch.setattr(pace, "_failed", set())
    monkeypatch.setattr(pace, "_busy", {})
    monkeypatch.setattr(cores, "cpu_bf16", lambda: "AVX-512 BF16")
    monkeypatch.setattr(pace.subprocess, "run",  # 85 pictures/s in float32, bfloat16 1.6× that
                        lambda command, **_: subprocess.CompletedProcess(command, 0, stdout="85.00 0.98 1.6\n", stderr=""))
    app = SagewizApp(WizardState(data_dir=digits(tmp_path)), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_to_the_where_step(pilot, app)
        await wait_for(pilot, lambda: on(app, "RegionScreen") and "should take about" in said(app, "#status"), what="the measure")
        hp = app.state.suggested
        at_its_pace = hp.epochs * hp.num_training_samples / (85 * 1.6) / 60
        assert hp.precision_dtype == "float16" and estimate_minutes(hp) == pytest.approx(at_its_pace)
        assert f"should take about {duration(at_its_pace)} here" in said(app, "#status")
        await click(pilot, "#next")
        await wait_for(pilot, lambda: on(app, "SettingsScreen") and "of training on this computer" in said(app, "#verdict"),
                       what="the settings")
        assert f"About {duration(at_its_pace)} of training on this computer" in said(app, "#verdict")
        assert "trained 1.6× faster than float32 when measured here" in said(app, "#why").replace("\n", " ")
