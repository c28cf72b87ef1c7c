"""Pieces every screen uses: the step indicator, the steps of a job, a yes/no question, and the
listener that saves each step of the journey. How errors are written is in tui/words.py."""

from __future__ import annotations

from textual.screen import ModalScreen
from textual.widgets import Static

STEPS = ("Welcome", "Pictures", "Where", "Settings", "Train", "Deploy & test", "Clean up")


class StepBar(Static):
    """Where the user is in the journey: ``Welcome › Pictures › …`` with the current step lit."""

    def __init__(self, current: str):
        parts = [f"[b reverse] {s} [/]" if s == current else f"[dim]{s}[/]" for s in STEPS]
        super().__init__(" › ".join(parts), classes="steps")


class StepList(Static):
    """The steps of one part of the journey, as the journey reports them: done ✓, running ▸, to come ·."""

    def __init__(self, names: dict[str, str], **kwargs):
        super().__init__("", **kwargs)
        self.names = names  # step key → what the user reads
        self.hidden: set[str] = set()  # steps this run won't take (no tuning, a kept endpoint)
        self.done: list[str] = []
        self.current = ""

    def on_mount(self) -> None:
        self.draw()

    def begin(self, step: str) -> None:
        """``step`` starts (the one before it is done); "" when the last one ended."""
        if self.current:
            self.done.append(self.current)
        self.current = step
        self.draw()

    def restart(self, hidden=()) -> None:
        self.hidden, self.done, self.current = set(hidden), [], ""
        self.draw()

    def draw(self) -> None:
        marks = ("[green]✓[/]" if key in self.done else "[b yellow]▸[/]" if key == self.current else "[dim]·[/]"
                 for key in self.names)
        self.update("\n".join(f"{mark} {label}" for mark, (key, label) in zip(marks, self.names.items())
                              if key not in self.hidden))


def journey_listener(screen, ledger, run, answers: dict | None = None):
    """What a screen's worker hands core/ to hear from the journey: each step is saved with the
    ``run`` and its ``answers`` (default: the run's own), so a run interrupted there is picked up
    there next time; each event goes to ``screen.show_event`` on the app's thread. Once the
    screen is gone (the wizard quit) it raises ScreenGone, which ends the journey's worker quietly."""
    from sagewiz.tui.background import tell

    def listen(event) -> None:
        if event.kind == "step" and run is not None:
            ledger.save_progress(run.id, event.step, run.answers if answers is None else answers)
        tell(screen, screen.show_event, event)

    return listen


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question over the current screen; dismisses with True for the action button."""

    BINDINGS = [("escape", "no", "Cancel")]

    def __init__(self, question: str, action: str = "Yes"):
        super().__init__()
        self.question, self.action = question, action

    def compose(self):
        from textual.containers import Horizontal, Vertical
        from textual.widgets import Button

        with Vertical(id="confirm"):
            yield Static(self.question)
            with Horizontal(classes="row"):
                yield Button(self.action, variant="warning", id="yes")
                yield Button("Cancel", id="no")

    def on_button_pressed(self, event) -> None:
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)


def natural_widths(headers, rows) -> list[int]:
    """Each column's width with nothing wrapped: its widest cell or header (markup or rich Text)."""
    from rich.text import Text

    def width(cell) -> int:
        plain = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain
        return max((Text(line).cell_len for line in plain.split("\n")), default=0)

    # at least 1: a column of width 0 renders its cells as no lines at all, which breaks DataTable's
    # rows of automatic height (IndexError) as soon as another cell in the row wraps
    return [max([1, width(header), *(width(row[i]) for row in rows)]) for i, header in enumerate(headers)]


def table_width(headers, rows) -> int:
    """The columns the table takes with nothing wrapped."""
    return sum(natural_widths(headers, rows)) + _chrome(headers)


def fits(headers, rows, room: int) -> bool:
    """Whether the table fits in ``room`` columns with nothing wrapped."""
    return table_width(headers, rows) <= room


def _chrome(headers) -> int:
    return 2 * len(headers) + 2  # a cell of padding each side of a column; the table's own scrollbar


def fill_table(table, headers, rows, room: int, give_way=(), keys=None) -> None:
    """Fill ``table`` with ``rows`` so that it doesn't scroll sideways in ``room`` columns. The columns
    take their natural width while they fit; when they don't, the columns in ``give_way`` narrow, in
    that order, each to no less than its width given there (``(column, least)`` pairs), and their
    cells wrap. Only a table that doesn't fit even then scrolls. ``keys``: a key for each row."""
    natural = natural_widths(headers, rows)
    widths, over = list(natural), sum(natural) + _chrome(headers) - room
    if 0 <= over < 2 and len(rows) < table.size.height:  # all rows in view unwrapped: no scrollbar to leave room for
        over = -1
    for column, least in give_way:
        cut = min(max(over, 0), max(widths[column] - least, 0))
        widths[column] -= cut
        over -= cut
    wrapped = widths != natural
    table.clear(columns=True)
    for header, width in zip(headers, widths):
        table.add_column(header, width=width)
    for number, row in enumerate(rows):
        table.add_row(*row, height=None if wrapped else 1, key=keys[number] if keys else None)


def room_for(widget, scrollbar: bool = False) -> int:
    """The columns ``widget`` can fill in its parent (less the parent's scrollbar, if it has one),
    or, before the screen is laid out, the terminal's width less the screen's padding."""
    width = widget.parent.content_region.width if widget.parent is not None else 0
    return (width - (2 if scrollbar else 0)) if width else widget.app.size.width - 6


def ready_to_go_on(screen, busy: bool = False) -> None:
    """The step's work is done: its Next button is enabled and, unless the user is ``busy`` in a
    field, takes the focus, so Enter goes on (a keyboard user would otherwise Tab across the
    whole screen to find it)."""
    from textual.widgets import Button

    button = screen.query_one("#next", Button)
    button.disabled = False
    if not busy:
        button.focus()


def lay_out_again(table, fill) -> None:
    """``fill(table)`` again (after a resize: its columns fit the new width), the highlighted row kept."""
    row = table.cursor_row
    fill(table)
    table.move_cursor(row=row)
