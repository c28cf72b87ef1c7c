"""Pictures in the terminal: a few of each class, and one picture large (predict, evaluate).

Drawn with text so they show in any terminal: each character cell is an upper half block "▀"
whose foreground is one pixel and whose background is the pixel below it, so a picture of C×2R
pixels fills C columns and R rows. That works over ssh, in tmux and in snapshot tests. Where the
terminal can draw real pictures (Sixel, Kitty's graphics protocol), the one large picture uses
them through textual-image; the terminal is asked once, before the app starts
(:func:`detect_terminal_graphics`), because once Textual runs it reads every answer itself.
Pictures are shrunk while they are decoded (JPEG draft mode), so a folder of phone photos costs little.
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
from textual.containers import Container
from textual.widgets import Static

from sagewiz.tui.background import in_background

HALF_BLOCK = "▀"
PER_CLASS = 2
# Small enough that four classes of two pictures each fit side by side in 80 columns.
COLUMNS, ROWS = 8, 4


def picture_as_text(path: str | os.PathLike, columns: int = COLUMNS, rows: int = ROWS) -> Text:
    """``path`` shrunk to fit ``columns``×``rows`` cells (aspect kept); a picture that can't be
    read becomes a short note instead, because a preview is never worth an error."""
    from sagewiz.core.dataset.images import to_rgb, upright

    try:
        with Image.open(path) as img:
            img.draft("RGB", (columns, rows * 2))  # JPEG: decode at 1/2..1/8 size, much faster
            picture = to_rgb(upright(img)).copy()  # a phone photo stood up, as it is packed
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

    @in_background(exclusive=True)
    def _draw(self, report, per_class: int) -> None:
        table = class_previews(pictures_per_class(report, per_class))
        heading = Text("A few pictures of each class", style="bold")
        self.app.call_from_thread(self._drawn, Group(heading, table))


# What the terminal can draw pictures with: "sixel" or "tgp", or None (half blocks). Only
# run_wizard asks, in a real terminal; tests and snapshots keep the text pictures.
_graphics: str | None = None


# Terminals known to draw pictures (Kitty's protocol or Sixel). Asking any terminal costs about
# 0.2 s of start-up (benchmarks/bench_startup.py), so only these are asked, unless
# SAGEWIZ_PICTURES=graphics says to ask anyway; inside tmux or screen pictures don't pass through.
_DRAWING_TERMS = ("xterm-kitty", "xterm-ghostty", "wezterm", "foot", "foot-extra", "mlterm", "contour")
_DRAWING_PROGRAMS = ("WezTerm", "iTerm.app", "ghostty", "vscode", "contour")


def _may_draw_pictures(env) -> bool:
    wanted = env.get("SAGEWIZ_PICTURES", "").lower()
    if wanted in ("text", "graphics"):
        return wanted == "graphics"
    if env.get("TMUX") or env.get("STY"):
        return False
    return (env.get("TERM", "") in _DRAWING_TERMS or env.get("TERM_PROGRAM", "") in _DRAWING_PROGRAMS
            or any(env.get(name) for name in ("KITTY_WINDOW_ID", "KONSOLE_VERSION", "WT_SESSION")))


def detect_terminal_graphics() -> str | None:
    """Ask the terminal whether it draws pictures (textual-image's query, on import). Must run
    before the app starts. SAGEWIZ_PICTURES=text never asks (for a terminal that answers
    wrongly), =graphics always does. Any failure means half blocks: a picture is never worth an error."""
    global _graphics
    if not _may_draw_pictures(os.environ):
        return None
    try:
        import importlib

        importlib.import_module("textual_image.widget")  # asks the terminal, once
        from textual_image.renderable import Image as Best, SixelImage, TGPImage
    except Exception:  # not installed, no answer, a terminal that closed stdin: text pictures
        return None
    _graphics = "sixel" if Best is SixelImage else "tgp" if Best is TGPImage else None
    return _graphics


class PictureView(Container):
    """One picture in a box of ``columns``×``rows`` cells: drawn by the terminal where it can,
    in half blocks otherwise (decoded in a thread, so a large photo never holds up the screen)."""

    DEFAULT_CSS = """
    PictureView { height: auto; width: auto; }
    PictureView > .picture-text { height: auto; width: auto; }
    """

    def __init__(self, columns: int, rows: int, **kwargs):
        super().__init__(**kwargs)
        self.columns, self.rows = columns, rows
        self.path = ""

    def compose(self):
        yield Static("", classes="picture-text")

    @property
    def text(self) -> str:
        """What the half-block picture shows ("" while drawing, or when the terminal draws it)."""
        return str(self.query_one(".picture-text", Static).render())

    def show(self, path: str) -> None:
        self.path = path
        if _graphics:
            from textual_image.widget import Image as TerminalPicture

            self.query(TerminalPicture).remove()
            self.query_one(".picture-text", Static).display = False
            picture = TerminalPicture(path, classes="picture-terminal")
            picture.styles.width, picture.styles.height = self.columns, self.rows
            self.mount(picture)
        else:
            self._draw(path)

    def clear(self) -> None:
        """Show no picture (beside an error, the last one drawn would be taken for the one refused)."""
        self.path = ""
        self.query(".picture-terminal").remove()
        self.query_one(".picture-text", Static).update("")

    @in_background(exclusive=True)
    def _draw(self, path: str) -> None:
        picture = picture_as_text(path, self.columns, self.rows)
        self.app.call_from_thread(self._drawn, path, picture)

    def _drawn(self, path: str, picture) -> None:
        if path == self.path:  # not cleared, nor another picture asked for, while this one was decoded
            self.query_one(".picture-text", Static).update(picture)
