"""Small charts drawn with block characters: accuracy per epoch (a pair of bars per epoch, train
and validation, on a fixed 0–1 scale so that epochs compare at a glance) and the tuning trials'
accuracy (a bar per trial, against the first training's)."""

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


def bars(series: list[list[float]], styles: list[str], height: int, limit: int) -> Text:
    """Vertical bars, ``height`` rows tall, for the last ``limit`` values of each series,
    interleaved per epoch (value 0 → empty, 1 → full column)."""
    epochs = max((len(s) for s in series), default=0)
    cells: list[tuple[float, str] | None] = []
    for epoch in range(max(0, epochs - limit), epochs):
        cells += [(values[epoch] if epoch < len(values) else 0.0, style) for values, style in zip(series, styles)]
        cells.append(None)
    return columns(cells, height)


class AccuracyChart(Static):
    """Train and validation accuracy per epoch, newest on the right."""

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
        height = max(3, (self.size.height or 7) - 2)
        limit = max(4, ((self.size.width or 60) - 2) // 3)
        chart = bars([self.train, self.validation], ["dodger_blue2", "green3"], height, limit)
        latest = ""
        if self.validation:
            latest = f"epoch {len(self.validation) - 1}: validation {self.validation[-1]:.3f} (best {max(self.validation):.3f})"
        legend = Text.assemble(("█", "dodger_blue2"), " train  ", ("█", "green3"), " validation   ", latest)
        self.update(Text.assemble(chart, legend))

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
