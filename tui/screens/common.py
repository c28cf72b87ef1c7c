"""Pieces every screen uses: the step indicator and turning a WizardError into a message."""

from __future__ import annotations

from textual.widgets import Static

STEPS = ("Welcome", "Pictures", "Settings", "Train & test", "Clean up")


class StepBar(Static):
    """Where the user is in the journey: ``Welcome › Pictures › …`` with the current step lit."""

    def __init__(self, current: str):
        parts = [f"[b reverse] {s} [/]" if s == current else f"[dim]{s}[/]" for s in STEPS]
        super().__init__(" › ".join(parts), classes="steps")


def error_text(error) -> str:
    """A WizardError as markup: what happened, then what to do."""
    from rich.markup import escape

    text = f"[b red]{escape(error.title)}:[/] {escape(error.message)}"
    if getattr(error, "hint", None):
        text += f"\n[yellow]What to do:[/] {escape(error.hint)}"
    return text
