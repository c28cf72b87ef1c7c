"""Every command that prints a table reads in an 80-column terminal, and in a 60-column one: no line
runs past the edge, no value is cut off with "…", and every name, state, price and path a person
looks for is on one line, whole (a path longer than the screen may wrap, nothing shorter)."""

from __future__ import annotations

import pytest

from corpus import make_malformed_corpus
from sagewiz.core.ledger import Ledger
from sagewiz.tui.cli import main
from sagewiz.tui.console import err_console
from test_aws_preflight import NEW_ACCOUNT_US_EAST_2, account_with_a_g4dn  # noqa: F401 - a fixture

WIDTHS = (80, 60)


def assert_reads(text: str, width: int, whole: list[str], words: list[str] = ()) -> None:
    """``whole``: names and paths, on one line each; ``words``: sentences, which may wrap, but
    only between words."""
    lines = text.splitlines()
    too_long = [line for line in lines if len(line.rstrip()) > width]
    assert not too_long, f"a line runs past the edge: {too_long}"
    assert "…" not in text, "something was cut off"
    for value in whole:
        if len(value) <= width - 4:
            assert any(value in line for line in lines), f"{value!r} is not on one line"
    for word in " ".join(words).split():
        assert any(word in line.split() or word in line for line in lines), f"{word!r} was cut in two"


@pytest.fixture
def terminal(monkeypatch):
    def of_width(width: int) -> None:
        monkeypatch.setattr(err_console, "width", width)
    return of_width


@pytest.fixture
def what_a_journey_left(tmp_path, monkeypatch):
    """A ledger as a run on each backend leaves it: a packed copy of a folder deep in the user's files,
    local jobs and storage in folders, an endpoint URL, and AWS resources with ARNs and prices."""
    home = tmp_path / "home"
    monkeypatch.setenv("SAGEWIZ_HOME", str(home))
    # the ledger as it is: asking AWS (no account here) is not what these tests are about
    monkeypatch.setattr("sagewiz.core.backends.live_resources", lambda ledger, only=None, region=None: ledger.live_resources(backend=only))
    photos = tmp_path / "Pictures" / "holiday photos 2026" / "cats and dogs, sorted"
    arn = "arn:aws:sagemaker:eu-central-1:123456789012"
    made = [("local", "packed-pictures", str(photos), f"file://{home}/packed/494dc4cc88a1c6d0", 0.0),
            ("local", "storage", "storage", f"file://{home}/storage", 0.0),
            ("local", "training-job", "sagewiz-e356d01a-train", f"file://{home}/jobs/sagewiz-e356d01a-train", 0.0),
            ("local", "endpoint", "sagewiz-e356d01a-endpoint", "http://127.0.0.1:40201", 0.0),
            ("aws", "bucket", "sagewiz-123456789012-eu-central-1", "s3://sagewiz-123456789012-eu-central-1", None),
            ("aws", "training-job", "sagewiz-7f3e21b0-train", f"{arn}:training-job/sagewiz-7f3e21b0-train", 0.736),
            ("aws", "endpoint", "sagewiz-7f3e21b0-endpoint", f"{arn}:endpoint/sagewiz-7f3e21b0-endpoint", 0.115)]
    with Ledger(home / "ledger.sqlite3") as ledger:
        for backend, kind, name, where, cost in made:
            record = ledger.intend(backend, kind, name, region="eu-central-1" if backend == "aws" else "", cost_per_hour=cost)
            ledger.update(record.id, state="active", arn_or_url=where)
    return made


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", [["resources"], ["cleanup"]])
def test_what_sagewiz_made_reads_with_every_name_and_place_whole(what_a_journey_left, terminal, capsys, command, width):
    terminal(width)
    main(command)  # cleanup without a terminal shows the list, then asks for --yes
    text = capsys.readouterr().err
    whole = [kind for _, kind, *_ in what_a_journey_left] + [name for _, _, name, *_ in what_a_journey_left]
    whole += [where for *_, where, _ in what_a_journey_left if not where.startswith("file:")] + ["$0.736", "$0.115", "free", "active"]
    assert_reads(text, width, whole)
    assert "On this computer" in text and "On AWS" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_the_regions_table_reads_with_every_type_and_price_whole(account_with_a_g4dn, terminal, capsys, width):  # noqa: F811
    account_with_a_g4dn.quotas["us-east-2"] = NEW_ACCOUNT_US_EAST_2
    terminal(width)
    assert main(["regions", "--region", "us-east-1", "--region", "us-east-2", "--region", "ap-northeast-3"]) == 0
    text = capsys.readouterr().err
    assert_reads(text, width, ["★ us-east-1", "us-east-2", "ap-northeast-3", "ml.g4dn.xlarge", "$0.736", "ml.m5.large",
                               "ready", "no quota", "no capacity", "ml.g4dn.xlarge ×1, ml.p3.2xlarge ×2"])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_problems_a_check_found_read_with_every_file_and_action_whole(tmp_path, terminal, capsys, width):
    make_malformed_corpus(tmp_path / "photos", label_conflict=False)
    terminal(width)
    assert main(["check", str(tmp_path / "photos"), "--mini-batch-size", "1"]) == 0
    text = capsys.readouterr().err
    assert_reads(text, width, ["cat/bomb.png", "cat/truncated.jpg", "dog/random-bytes.jpg", "dog/sixteen-bit.png",
                               "converted to RGB", "skipped", "empty file (0 bytes)", "cat", "dog"])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_files_im2rec_skipped_read_with_every_path_whole(tmp_path, terminal, capsys, width):
    make_malformed_corpus(tmp_path / "photos", label_conflict=False)
    deep = tmp_path / "photos" / "dog" / "holiday 2026 on the coast" / "IMG_20260701_181512_cut_off.jpg"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"\xff\xd8\xff\xe0 cut off")
    prefix, root = str(tmp_path / "lists" / "photos"), str(tmp_path / "photos")
    (tmp_path / "lists").mkdir()
    assert main(["im2rec", prefix, root, "--list", "--recursive"]) == 0
    capsys.readouterr()  # the lists it wrote: not the table
    terminal(width)
    assert main(["im2rec", prefix, root, "--pass-through"]) == 0
    text = capsys.readouterr().err
    assert_reads(text, width, ["dog/holiday 2026 on the coast/IMG_20260701_181512_cut_off.jpg", "cat/truncated.jpg"],
                 words=["truncated JPEG (no end-of-image marker)", "empty file (0 bytes)"])
