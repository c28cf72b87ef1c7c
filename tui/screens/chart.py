"""A small accuracy chart drawn with block characters: one pair of bars per epoch, train and
validation, on a fixed 0–1 scale so that epochs compare at a glance."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

_BLOCKS = " ▁▂▃▄▅▆▇█"


def bars(series: list[list[float]], styles: list[str], height: int, limit: int) -> Text:
    """Vertical bars, ``height`` rows tall, for the last ``limit`` values of each series,
    interleaved per epoch (value 0 → empty, 1 → full column)."""
    epochs = max((len(s) for s in series), default=0)
    first = max(0, epochs - limit)
    text = Text()
    for row in range(height, 0, -1):
        for epoch in range(first, epochs):
            for values, style in zip(series, styles):
                value = values[epoch] if epoch < len(values) else 0.0
                eighths = max(0, min(8, round((value * height - (row - 1)) * 8)))
                text.append(_BLOCKS[eighths], style=style)
            text.append(" ")
        text.append("\n")
    return text


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
