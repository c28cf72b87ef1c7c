"""A few pictures of each class, drawn with text so they show in any terminal.

Each character cell is an upper half block "▀" whose foreground is one pixel and whose background
is the pixel below it, so a picture of C×2R pixels fills C columns and R rows. That works over
ssh, in tmux and in snapshot tests, where terminal graphics protocols don't. Pictures are shrunk
while they are decoded (JPEG draft mode), so a folder of phone photos costs little.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PIL import Image
from rich.color import Color
from rich.columns import Columns
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import work
from textual.widgets import Static

HALF_BLOCK = "▀"
PER_CLASS = 2
# Small enough that four classes of two pictures each fit side by side in 80 columns.
COLUMNS, ROWS = 8, 4


def picture_as_text(path: str | os.PathLike, columns: int = COLUMNS, rows: int = ROWS) -> Text:
    """``path`` shrunk to fit ``columns``×``rows`` cells (aspect kept); a picture that can't be
    read becomes a short note instead, because a preview is never worth an error."""
    from sagewiz.core.dataset.images import to_rgb

    try:
        with Image.open(path) as img:
            img.draft("RGB", (columns, rows * 2))  # JPEG: decode at 1/2..1/8 size, much faster
            picture = to_rgb(img).copy()
    except (OSError, ValueError, Image.DecompressionBombError):
        return Text("(can't show)", style="dim")
    picture.thumbnail((columns, rows * 2))
    if picture.width < columns or picture.height < rows * 2:
        # enlarge tiny pictures (the 8×8 digits) with hard edges so their pixels stay visible
        scale = min(columns / picture.width, rows * 2 / picture.height)
        size = (max(1, int(picture.width * scale)), max(1, int(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.NEAREST)
    return _half_blocks(picture)


def _half_blocks(picture: Image.Image) -> Text:
    pixels = picture.load()
    text = Text(no_wrap=True, overflow="crop")
    for y in range(0, picture.height, 2):
        for x in range(picture.width):
            top = Color.from_rgb(*pixels[x, y][:3])
            bottom = Color.from_rgb(*pixels[x, y + 1][:3]) if y + 1 < picture.height else None
            text.append(HALF_BLOCK, Style(color=top, bgcolor=bottom))
        if y + 2 < picture.height:
            text.append("\n")
    return text


def pictures_per_class(report, per_class: int = PER_CLASS) -> dict[str, list[str]]:
    """The first ``per_class`` usable pictures of every class (training split first), as paths.
    The same pictures every time, so the preview doesn't change between visits."""
    chosen: dict[str, list[str]] = {info.name: [] for info in report.classes}
    for split in ("train", "validation", "test"):
        for relpath, name in report.images.get(split, ()):
            if name in chosen and len(chosen[name]) < per_class:
                chosen[name].append(os.path.join(report.root, relpath))
    return chosen


def class_previews(chosen: dict[str, Sequence[str]], columns: int = COLUMNS, rows: int = ROWS) -> Columns:
    """Each class as its name over its pictures; the classes flow side by side, then wrap."""
    blocks = []
    for name, paths in chosen.items():
        pictures = Table.grid(padding=(0, 1))
        pictures.add_row(*(picture_as_text(p, columns, rows) for p in paths))
        width = max(len(paths) * (columns + 1) - 1, columns)
        label = Text(name, style="bold", no_wrap=True, overflow="ellipsis")
        label.truncate(width, overflow="ellipsis")
        blocks.append(Group(label, pictures))
    return Columns(blocks, padding=(0, 3))


class ClassThumbnails(Static):
    """Pictures of each class in a checked dataset. Decoding happens in a thread so a folder of
    large photos never holds up the screen; until then it says what it is doing."""

    is_drawing = False

    def show(self, report, per_class: int = PER_CLASS) -> None:
        if not report.classes:
            self.update("")
            return
        self.is_drawing = True
        self.update(Text("Drawing a few pictures of each class …", style="dim"))
        self._draw(report, per_class)

    def _drawn(self, picture) -> None:
        self.update(picture)
        self.is_drawing = False

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _draw(self, report, per_class: int) -> None:
        table = class_previews(pictures_per_class(report, per_class))
        heading = Text("A few pictures of each class", style="bold")
        self.app.call_from_thread(self._drawn, Group(heading, table))
