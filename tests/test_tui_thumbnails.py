"""A few pictures of each class, drawn with half blocks so they show in any terminal."""

from __future__ import annotations

import asyncio
import io

from PIL import Image
from rich.color import Color
from rich.console import Console
from textual.app import App

from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.tui.thumbnails import HALF_BLOCK, ClassThumbnails, PictureView, picture_as_text, pictures_per_class

RED, BLUE, GREEN, WHITE = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255)


def test_each_cell_shows_a_pixel_and_the_pixel_below_it(tmp_path):
    picture = Image.new("RGB", (2, 2))
    picture.putdata([RED, GREEN, BLUE, WHITE])  # top row red, green; bottom row blue, white
    picture.save(tmp_path / "p.png")

    text = picture_as_text(tmp_path / "p.png", columns=2, rows=1)

    assert text.plain == HALF_BLOCK * 2
    left, right = (text.get_style_at_offset(Console(), i) for i in range(2))
    assert (left.color, left.bgcolor) == (Color.from_rgb(*RED), Color.from_rgb(*BLUE))
    assert (right.color, right.bgcolor) == (Color.from_rgb(*GREEN), Color.from_rgb(*WHITE))


def test_a_phone_photo_is_shrunk_to_the_cells_it_is_given(tmp_path):
    Image.new("RGB", (4000, 3000), RED).save(tmp_path / "photo.jpg")

    lines = picture_as_text(tmp_path / "photo.jpg", columns=10, rows=5).plain.split("\n")

    assert len(lines) <= 5 and max(map(len, lines)) == 10  # wide picture: full width, fewer rows


def test_a_phone_photo_stored_on_its_side_is_shown_upright_as_it_is_packed(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    Image.new("RGB", (400, 200), RED).save(tmp_path / "phone.jpg", exif=exif)

    lines = picture_as_text(tmp_path / "phone.jpg", columns=10, rows=5).plain.split("\n")

    assert len(lines) == 5 and max(map(len, lines)) == 5  # tall: full height, half the width


def test_a_tiny_digit_is_enlarged_to_fill_its_cells(tmp_path):
    Image.new("L", (8, 8), 200).save(tmp_path / "digit.png")

    lines = picture_as_text(tmp_path / "digit.png", columns=10, rows=5).plain.split("\n")

    assert len(lines) == 5 and all(len(line) == 10 for line in lines)


def test_a_picture_that_cannot_be_read_shows_a_note_instead_of_an_error(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")

    assert picture_as_text(tmp_path / "broken.jpg").plain == "(can't show)"
    assert picture_as_text(tmp_path / "missing.png").plain == "(can't show)"


def test_every_class_shows_the_same_first_pictures_each_time(tmp_path):
    write_sample_dataset(tmp_path / "digits", classes=[0, 1], seed=1)
    report = scan_dataset(tmp_path / "digits")

    chosen = pictures_per_class(report, per_class=3)

    assert sorted(chosen) == sorted(info.name for info in report.classes)
    assert all(len(paths) == 3 for paths in chosen.values())
    assert all(Image.open(path).size == (32, 32) for paths in chosen.values() for path in paths)  # real pictures
    assert chosen == pictures_per_class(scan_dataset(tmp_path / "digits"), per_class=3)


def test_the_dataset_step_can_show_the_pictures_of_each_class(tmp_path):
    write_sample_dataset(tmp_path / "digits", classes=[0, 1], seed=1)
    report = scan_dataset(tmp_path / "digits")

    class Preview(App):
        def compose(self):
            yield ClassThumbnails(id="thumbs")

    async def story():
        app = Preview()
        async with app.run_test(size=(80, 24)):
            thumbs = app.query_one(ClassThumbnails)
            thumbs.show(report)
            assert thumbs.is_drawing
            await app.workers.wait_for_complete()
            assert not thumbs.is_drawing
            return thumbs.content

    console = Console(width=80, file=io.StringIO(), record=True)
    console.print(asyncio.run(story()))
    shown = console.export_text()
    assert "A few pictures of each class" in shown
    assert "digit_0" in shown and "digit_1" in shown
    assert shown.count(HALF_BLOCK) == 2 * 2 * 8 * 4  # two classes, two pictures of 8×4 cells each


class OnePicture(App):
    def compose(self):
        yield PictureView(20, 10, id="picture")


def _shown(path, graphics, monkeypatch):
    """What a PictureView holds after showing ``path`` in a terminal that draws with ``graphics``."""
    from sagewiz.tui import thumbnails

    monkeypatch.setattr(thumbnails, "_graphics", graphics)

    async def run():
        app = OnePicture()
        async with app.run_test(size=(40, 14)) as pilot:
            view = app.query_one(PictureView)
            view.show(str(path))
            for _ in range(50):
                await pilot.pause(0.05)
                if view.text or view.children[1:]:
                    break
            return view.text, [type(child).__module__ for child in view.children[1:]]

    return asyncio.run(run())


def test_one_picture_is_drawn_by_the_terminal_where_it_can_and_in_half_blocks_elsewhere(tmp_path, monkeypatch):
    Image.new("RGB", (64, 64), RED).save(tmp_path / "cat.png")

    text, drawn_by_terminal = _shown(tmp_path / "cat.png", None, monkeypatch)
    assert HALF_BLOCK in text and not drawn_by_terminal

    text, drawn_by_terminal = _shown(tmp_path / "cat.png", "tgp", monkeypatch)  # Kitty's graphics protocol
    assert not text and drawn_by_terminal and drawn_by_terminal[0].startswith("textual_image")


def test_only_terminals_known_to_draw_pictures_are_asked_so_start_up_stays_quick():
    from sagewiz.tui.thumbnails import _may_draw_pictures

    assert _may_draw_pictures({"TERM": "xterm-kitty"}) and _may_draw_pictures({"TERM_PROGRAM": "WezTerm"})
    assert not _may_draw_pictures({"TERM": "xterm-256color"})  # most terminals: half blocks, no question
    assert not _may_draw_pictures({"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-1000/default,1,0"})  # tmux keeps pictures out
    assert not _may_draw_pictures({"TERM": "xterm-kitty", "SAGEWIZ_PICTURES": "text"})
    assert _may_draw_pictures({"TERM": "xterm-256color", "SAGEWIZ_PICTURES": "graphics"})


def test_without_a_terminal_or_when_told_so_pictures_stay_text(monkeypatch):
    import sys

    from sagewiz.tui.thumbnails import detect_terminal_graphics

    monkeypatch.setenv("SAGEWIZ_PICTURES", "text")
    assert detect_terminal_graphics() is None
    monkeypatch.setenv("SAGEWIZ_PICTURES", "graphics")
    if not sys.__stdout__.isatty():  # as in CI and under pytest's capture: asked, nothing answers: text
        assert detect_terminal_graphics() is None


def test_the_answer_bars_are_as_long_as_the_chances():
    from sagewiz.tui.screens.predict import proportional_bar

    assert proportional_bar(1.0, 30) == "█" * 30
    assert proportional_bar(0.5, 30) == "█" * 15
    assert proportional_bar(0.006, 30) == "▏"  # a sliver: some chance
    assert proportional_bar(0.0, 30) == "" and proportional_bar(0.0004, 30) == ""  # none to see: no bar
    assert proportional_bar(0.25, 3) == "▊"  # 0.75 of a cell
