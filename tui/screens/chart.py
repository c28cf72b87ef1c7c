"""Small charts drawn with block characters: accuracy per epoch (a pair of bars per epoch, train
and validation, on a fixed 0–1 scale so that epochs compare at a glance, every epoch in view) and
the tuning trials' accuracy (a bar per trial, against the first training's)."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

_BLOCKS = " ▁▂▃▄▅▆▇█"


def columns(cells: list[tuple[float, str] | None], height: int, mark: float | None = None) -> Text:
    """Vertical bars side by side, ``height`` rows tall: each cell a (value, style) column filled
    from the bottom (0 → empty, 1 → full), or None for a gap. ``mark`` draws a dotted line at that
    height across the empty cells: the level to beat."""
    mark_row = None if mark is None else max(1, min(height, math.ceil(mark * height)))  # the row the level falls in
    text = Text()
    for row in range(height, 0, -1):
        for cell in cells:
            eighths = 0 if cell is None else max(0, min(8, round((cell[0] * height - (row - 1)) * 8)))
            if cell is not None and (eighths or row != mark_row):
                text.append(_BLOCKS[eighths], style=cell[1])
            elif row == mark_row:
                text.append("┄", style="grey50")
            else:
                text.append(" ")
        text.append("\n")
    return text


def epoch_groups(epochs: int, room: int) -> tuple[int, int]:
    """How every epoch fits across ``room`` columns: (epochs per pair of bars, columns per pair).
    A train bar, a validation bar and a gap per epoch while they fit; then without the gap; then
    neighbouring epochs share a pair (showing the later one), as many as it takes. So the chart
    narrows its bars as epochs come instead of pushing the first ones out of view."""
    room = max(room, 2)
    if epochs * 3 <= room:
        return 1, 3
    return max(1, math.ceil(epochs * 2 / room)), 2


def epoch_axis(epochs: int, per: int, width: int) -> str:
    """The epoch numbers under the bars (the algorithm's own, from 0, as in the log), at the
    first column of their pair: the last one always, the others where they don't crowd."""
    groups = math.ceil(epochs / per) if epochs else 0
    line = [" "] * (groups * width)
    if not groups:
        return ""

    def label(group: int) -> tuple[int, str]:
        number = str(min(group * per + per - 1, epochs - 1))  # the epoch the pair shows
        return min(group * width, len(line) - len(number)) if len(line) >= len(number) else 0, number

    last_at, last = label(groups - 1)
    free = 0
    for group in range(groups - 1):
        at, number = label(group)
        if at >= free and at + len(number) < last_at:
            line[at:at + len(number)] = number
            free = at + len(number) + 1
    line[last_at:last_at + len(last)] = last
    return "".join(line)


class AccuracyChart(Static):
    """Train and validation accuracy per epoch on a fixed 0–1 scale, every epoch in view (the
    bars narrow as epochs come), with the epoch numbers beneath."""

    GUTTER = 6  # the scale's labels on the left: "  1.0 ", "    0 ", "epoch "
    STYLES = ("dodger_blue2", "green3")

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.train: list[float] = []
        self.validation: list[float] = []

    def add(self, name: str, epoch: int, value: float) -> None:
        values = self.train if name == "train:accuracy" else self.validation
        while len(values) <= epoch:
            values.append(0.0)
        values[epoch] = value
        self.refresh_chart()

    def refresh_chart(self) -> None:
        height = max(2, (self.size.height or 7) - 2)  # less the epoch axis and the legend
        room = max(2, (self.size.width or 60) - self.GUTTER)
        epochs = max(len(self.train), len(self.validation))
        per, width = epoch_groups(epochs, room)
        cells: list[tuple[float, str] | None] = []
        for group in range(math.ceil(epochs / per)):
            epoch = min(group * per + per - 1, epochs - 1)  # the later epoch of the ones the pair stands for
            cells += [(values[epoch] if epoch < len(values) else 0.0, style) for values, style in
                      zip((self.train, self.validation), self.STYLES)]
            if width == 3:
                cells.append(None)
        scale = ["  1.0 "] + ["      "] * (height - 2) + ["    0 "]
        text = Text()
        for label, line in zip(scale, columns(cells, height).split()):
            text.append(label, style="grey50")
            text.append_text(line)
            text.append("\n")
        text.append("epoch ", style="grey50")
        text.append(epoch_axis(epochs, per, width) + "\n", style="grey50")
        latest = f"  last {self.validation[-1]:.3f}, best {max(self.validation):.3f}" if self.validation else ""
        text.append_text(Text.assemble(("█", self.STYLES[0]), " train ", ("█", self.STYLES[1]), " validation", latest))
        self.update(text)

    def on_resize(self) -> None:
        self.refresh_chart()


class TrialChart(Static):
    """The tuning trials' validation accuracy, one bar per trial in the table's order: the best
    green, stopped-early ones grey, the first training's accuracy as a dotted line. The scale
    starts near the lowest value, so that trials a few points apart look apart."""

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.trials: list[tuple[float | None, str]] = []  # (objective, style) per trial
        self.first: float | None = None

    def show(self, trials: list[tuple[float | None, bool, bool]], first: float | None) -> None:
        """``trials``: (objective or None while running, is best, stopped early) per trial."""
        self.trials = [(objective, "green3" if best else "grey50" if pruned else "dodger_blue2")
                       for objective, best, pruned in trials]
        self.first = first
        self.refresh_chart()

    def floor(self) -> float:
        """The value at the chart's bottom: a tenth below the lowest, so the lowest still shows."""
        values = [v for v, _ in self.trials if v is not None] + ([self.first] if self.first is not None else [])
        return max(0.0, int((min(values, default=0.0) - 0.05) * 10) / 10)

    def refresh_chart(self) -> None:
        height = max(3, (self.size.height or 8) - 3)
        low = self.floor()

        def scaled(value: float) -> float:
            return (value - low) / (1.0 - low) if low < 1.0 else 1.0

        cells: list[tuple[float, str] | None] = []
        for objective, style in self.trials:
            cells += [(scaled(objective), style)] * 2 if objective is not None else [None, None]
            cells.append(None)
        chart = columns(cells, height, None if self.first is None else scaled(self.first))
        axis = ["1.0 "] + ["    "] * (height - 2) + [f"{low:.1f} "]  # the scale, on the left: it doesn't start at 0
        text = Text()
        for label, line in zip(axis, chart.split()):
            text.append(label, style="grey50")
            text.append_text(line)
            text.append("\n")
        numbers = "".join(f"{n:<3}" for n in range(1, len(self.trials) + 1))
        legend = Text.assemble(("█", "green3"), " best ", ("█", "dodger_blue2"), " other ", ("█", "grey50"), " stopped early",
                               (" ┄ to beat", "grey50") if self.first is not None else "")
        self.update(Text.assemble(text, "    ", numbers, "\n", legend))

    def on_resize(self) -> None:
        self.refresh_chart()
