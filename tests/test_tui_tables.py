"""A table whose rows arrive as the screen is being laid out still shows them all."""

from __future__ import annotations

import asyncio

from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import Static

from sagewiz.tui.screens.tables import RowsTable


class OneTable(App):
    CSS = "DataTable { height: auto; max-height: 16; }"

    def compose(self):
        with VerticalScroll():
            yield Static("What the folder holds")
            yield RowsTable()

    def on_mount(self) -> None:
        self.query_one(RowsTable).display = False  # as the Pictures step's tables are before a folder is checked

    def show_classes(self, classes: list[str]) -> None:
        table = self.query_one(RowsTable)
        table.clear(columns=True)
        table.add_columns("label", "class")
        for label, name in enumerate(classes):
            table.add_row(str(label), name)
        table.display = True
        # A layout pass of the screen before the table has measured its rows, as another widget's
        # change brings about by chance on a busy computer; called directly, it comes every time.
        self.screen._refresh_layout()


def test_a_table_shown_with_its_rows_while_the_screen_is_laid_out_is_as_tall_as_them():
    async def story():
        app = OneTable()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            app.show_classes(["cat", "dog", "parrot"])
            await pilot.pause(0.3)
            table = app.query_one(RowsTable)
            assert table.size.height == 4  # the header and three classes; it was 0 as a plain DataTable
            assert "parrot" in app.export_screenshot()  # and drawn

    asyncio.run(story())
