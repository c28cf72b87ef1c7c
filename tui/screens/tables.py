"""A table as tall as its rows."""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import DataTable


class RowsTable(DataTable):
    """A DataTable of ``height: auto`` that grows to its rows however they arrive.

    DataTable learns how tall its rows are only when it is next idle. Textual keeps each widget's
    size per layout request, and a request made while another is still pending (the table just
    shown, say) is folded into it: when a layout pass of the screen falls between showing the table
    and its rows being measured, the table keeps the height it had without rows, none at all, until
    something else lays the screen out (a CI run caught the Pictures step's classes so, missing). A
    layout asked for after the screen has drawn is a request of its own, and reads the new height.
    """

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        if old.height != new.height:
            self.call_after_refresh(self.refresh, layout=True)
