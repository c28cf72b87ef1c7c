"""Trying a kept endpoint: a picture is only ever shown beside its own answer."""

from __future__ import annotations

import pytest
from PIL import Image

from pilot_steps import click, wait_for
from sagewiz.core.backend import Prediction
from sagewiz.core.errors import WizardError
from sagewiz.tui.app import SagewizApp
from sagewiz.tui.screens.predict import PredictScreen
from sagewiz.tui.state import WizardState
from test_tui import run_async, screen_name, text_of


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def endpoint(monkeypatch):
    """An endpoint that answers for PNG pictures and refuses anything else, as SageMaker's does."""
    class Backend:
        def predict(self, endpoint_name, image, content_type):
            if not image.startswith(b"\x89PNG"):
                raise WizardError("The body is not an image the model can read.", title="Image refused")
            return Prediction((0.2, 0.8))

    monkeypatch.setattr("sagewiz.core.backends.open_backend", lambda *args, **kwargs: Backend())


@run_async
async def test_a_refused_picture_is_not_shown_beside_the_last_picture(endpoint, tmp_path):
    digit, notes = tmp_path / "digit.png", tmp_path / "notes.png"
    Image.new("RGB", (16, 16), (250, 250, 250)).save(digit)
    notes.write_bytes(b"not a picture at all")
    state = WizardState(summary={"endpoint": {"name": "sagewiz-digits-endpoint"}, "dataset": {"classes": ["zero", "one"]}})
    app = SagewizApp(state, unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
        app.push_screen(PredictScreen(state))
        await wait_for(pilot, lambda: screen_name(app) == "PredictScreen" and app.screen.query("#picture"))
        field = app.screen.query_one("#picture")
        field.value = str(digit)
        await click(pilot, "#predict")
        await wait_for(pilot, lambda: app.screen.answer and "▀" in app.screen.query_one("#preview").text, what="the answer and its picture")
        field.value = str(notes)
        await click(pilot, "#predict")
        await wait_for(pilot, lambda: "Image refused" in text_of(app, "#answer"), what="the refusal")
        await pilot.pause(0.2)
        assert app.screen.query_one("#preview").text == ""  # the digit, beside this error, read as the refused picture
