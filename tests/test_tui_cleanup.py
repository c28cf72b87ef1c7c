"""Clean-up as a user meets it: the wizard's list keeps what they chose to keep, every deletion
names what goes and waits for a yes, and the packed copy of their pictures is named as sagewiz's
copy, never as their folder, in the wizard and in ``sagewiz cleanup`` alike."""

from __future__ import annotations

import sys

import pytest

from pilot_steps import click, wait_for
from sagewiz.core.journey import PACKED_KIND, recorded_packing
from sagewiz.core.ledger import Ledger, Resource
from sagewiz.tui.app import SagewizApp
from sagewiz.tui.screens.cleanup import CHECKED, UNCHECKED, CleanupScreen
from sagewiz.tui.state import WizardState
from sagewiz.tui.words import counted, resource_name, these
from test_tui import run_async, screen_name, text_of


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def made(index, backend, kind, name, cost=0.0, details=None) -> Resource:
    return Resource(index, "run-1", backend, kind, name, "us-east-1", None, "active", cost, None, details or {},
                    "2026-11-25T09:00:00Z", "2026-11-25T09:20:00Z")


@pytest.fixture
def account(monkeypatch, tmp_path):
    """What sagewiz made on AWS and here, as its backends list it; deleting takes a resource off the list."""
    listed = [made(1, "aws", "endpoint", "sagewiz-digits-endpoint", 0.115),
              made(2, "aws", "training-job", "sagewiz-digits-train"),
              made(3, "aws", "bucket", "sagewiz-123456789012-us-east-1"),
              made(4, "local", PACKED_KIND, str(tmp_path / "photos"), details={"dir": str(tmp_path / "packed")})]

    class Backend:
        def resources(self):
            return list(listed)

    def delete_resources(ledger, chosen):
        for resource in chosen:
            listed.remove(resource)
            yield resource, None

    monkeypatch.setattr("sagewiz.core.backends.open_backend", lambda *args, **kwargs: Backend())
    monkeypatch.setattr("sagewiz.core.backends.live_resources", lambda ledger, backend: [])
    monkeypatch.setattr("sagewiz.core.backends.delete_resources", delete_resources)
    return listed


async def on_clean_up(pilot) -> CleanupScreen:
    app = pilot.app
    await wait_for(pilot, lambda: screen_name(app) == "WelcomeScreen")
    app.push_screen(CleanupScreen(app.state))
    await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen" and app.screen.resources, what="the list")
    return app.screen


def ticks(screen) -> list[str]:
    table = screen.query_one("#resources")
    return [table.get_row_at(row)[0] for row in range(table.row_count)]


@run_async
async def test_an_unticked_endpoint_survives_the_deletion_of_the_others_and_stays_unticked(account):
    app = SagewizApp(WizardState(backend="aws", region="us-east-1"), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await on_clean_up(pilot)
        screen.query_one("#resources").focus()
        await pilot.press("space")  # the endpoint, on the first row: kept to try it tomorrow
        await click(pilot, "#delete")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen", what="the confirmation")
        question = text_of(app, "Static")
        assert "Delete these 3 things?" in question and "sagewiz-digits-train" in question
        assert "sagewiz's packed copy of photos/" in question and "endpoint" not in question
        await click(pilot, "#yes")
        await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen" and len(screen.resources) == 1, what="the deletion")
        await pilot.pause()
        assert [r.kind for r in account] == ["endpoint"]
        assert ticks(screen) == [UNCHECKED]  # as the user left it: not ticked again behind their back
        await click(pilot, "#delete")  # nothing ticked: nothing goes, and no question either
        await pilot.pause()
        assert screen_name(app) == "CleanupScreen" and [r.kind for r in account] == ["endpoint"]
        assert "Nothing is selected" in " ".join(note.message for note in app._notifications)


@run_async
async def test_every_deletion_names_what_goes_and_cancel_keeps_it(account):
    app = SagewizApp(WizardState(backend="aws", region="us-east-1"), unfinished_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await on_clean_up(pilot)
        assert ticks(screen) == [CHECKED] * 4  # everything, to start with
        await click(pilot, "#delete")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen", what="the confirmation")
        assert "Delete these 4 things?" in text_of(app, "Static") and "sagewiz-digits-endpoint" in text_of(app, "Static")
        await click(pilot, "#no")
        await wait_for(pilot, lambda: screen_name(app) == "CleanupScreen")
        assert len(account) == 4 and ticks(screen) == [CHECKED] * 4


def test_the_packed_copy_is_named_as_sagewizs_copy_of_the_folder(tmp_path):
    packed = made(4, "local", PACKED_KIND, str(tmp_path / "photos"), details={"dir": str(tmp_path / "packed")})
    assert resource_name(packed) == "sagewiz's packed copy of photos/"
    assert resource_name(made(1, "aws", "endpoint", "sagewiz-digits-endpoint")) == "sagewiz-digits-endpoint"


def test_counts_read_in_the_singular_and_the_plural():
    assert these(1, "thing") == "this 1 thing" and these(2, "thing") == "these 2 things"
    assert counted(1, "resource") == "1 resource" and counted(0, "resource") == "0 resources"


@pytest.fixture
def photos_packed(tmp_path, home):
    """The user's photos, and sagewiz's packed copy of them, as the ledger records it."""
    photos, folder = tmp_path / "photos", home / "packed" / "photos-1"
    (photos / "cat").mkdir(parents=True)
    (photos / "cat" / "tom.jpg").write_bytes(b"a cat")
    with Ledger() as ledger, recorded_packing(ledger, photos, folder):
        folder.mkdir(parents=True)
        (folder / "train.rec").write_bytes(b"packed")
    return photos, folder


def test_sagewiz_cleanup_says_it_deleted_its_packed_copy_not_the_photos(photos_packed, capsys):
    from sagewiz.tui.cli import main

    photos, folder = photos_packed
    assert main(["cleanup", "--yes"]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert "✓ deleted sagewiz's packed copy of photos/" in said and "sagewiz's packed copy of photos/" in said
    assert not folder.exists() and (photos / "cat" / "tom.jpg").read_bytes() == b"a cat"


def test_sagewiz_cleanup_asks_about_this_1_thing(photos_packed, monkeypatch, capsys):
    from sagewiz.tui.cli import main

    asked = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "n")
    assert main(["cleanup"]) == 1
    assert asked == ["Delete this 1 thing? [y/N] "]
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert main(["cleanup"]) == 1
    assert "would delete this 1 thing and needs your go-ahead" in " ".join(capsys.readouterr().err.split())


def test_the_ending_says_what_an_endpoint_left_on_aws_costs_and_how_to_delete_it():
    from sagewiz.tui.words import left_behind

    endpoint = made(1, "aws", "endpoint", "sagewiz-digits-endpoint", 0.115, details={"instance_type": "ml.c5.xlarge"})
    said = left_behind([endpoint, made(2, "aws", "training-job", "sagewiz-digits-train")])
    assert said == ["The endpoint sagewiz-digits-endpoint is still running on AWS (ml.c5.xlarge), $0.115 per hour until it "
                    "is deleted; `sagewiz cleanup` deletes it.",
                    "sagewiz keeps 2 things it made (endpoint, training job): `sagewiz resources` lists them, "
                    "`sagewiz cleanup` deletes them."]
    assert left_behind([]) == []
