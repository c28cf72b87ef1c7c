"""The monitor's list: everything SageMaker (or this computer) runs, what it costs per hour now and
so far, sagewiz's own and any other's, refreshed live at the core's pace (slower while AWS
throttles), with the keys that stop what is no longer needed.

This screen owns the refreshing: a background thread asks the :class:`Monitor` for a snapshot, shows
it, and waits what the monitor says before the next one (``r`` asks at once). The detail screens
pushed over it hear of every snapshot (``snapshot_taken``), so leaving one doesn't stop anything.
It is the whole of ``sagewiz monitor`` (tui/monitor_app.py) and a step the wizard's welcome offers.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sagewiz.core.monitor.model import ENDPOINT, KIND_TITLES, TRAINING, TUNING, Item, Snapshot
from sagewiz.tui.background import tell, watching_in_background
from sagewiz.tui.screens.common import fill_table, room_for
from sagewiz.tui.screens.monitor_actions import ActsOnItems, allowed
from sagewiz.tui.screens.monitor_rows import (HEADING, NARROW, OURS, about, columns_for, freshness_lines, item_key,
                                              money_line, table_rows, where)
from sagewiz.tui.words import error_text


class ResourceTable(DataTable):
    """The resources, a row each; Enter opens the highlighted one (and says so in the footer)."""

    BINDINGS = [Binding("enter", "select_cursor", "Details")]


class MonitorScreen(ActsOnItems, Screen[None]):
    """Dismisses (with None) when the person leaves: ``q`` or Esc."""

    BINDINGS = [("s", "stop", "Stop"), ("d", "delete", "Delete endpoint"), ("n", "stop_notebook", "Stop notebook"),
                ("p", "ask", "Ask about a picture"), ("r", "refresh", "Refresh now"), ("q", "leave", "Close"),
                Binding("escape", "leave", "Close", show=False)]

    def __init__(self, monitor, *, clock: Callable[[], float] = time.time, log_poll_s: float | None = None):
        super().__init__()
        self.monitor, self.clock, self.home = monitor, clock, self
        self.log_poll_s = log_poll_s  # how often a detail screen reads a job's log (None: the backend's own pace)
        self.snapshot: Snapshot | None = None
        self.keys: list[str] = []
        self.wake, self.leaving = threading.Event(), False

    def compose(self) -> ComposeResult:
        backend = "on this computer" if self.monitor.backend == "local" else "on SageMaker"
        yield Static(f"[b]sagewiz monitor[/] · what runs {backend} and what it costs", classes="steps", id="title")
        with Vertical(classes="body", id="monitor-body"):
            yield Static("Reading what runs …", id="money")
            yield Static("", id="freshness")
            yield ResourceTable(id="resources", cursor_type="row")
            yield Static("", id="picked")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick)
        self.query_one(ResourceTable).focus()
        self.keep_refreshing()

    def on_unmount(self) -> None:
        self.leaving = True
        self.wake.set()  # the refreshing thread ends at once instead of after its wait

    # ---- refreshing ---------------------------------------------------------------------------
    @watching_in_background  # quitting never waits for a refresh in flight
    def keep_refreshing(self) -> None:
        from sagewiz.core.errors import WizardError

        while not self.leaving:
            try:
                snapshot = self.monitor.refresh()
            except WizardError as error:  # no credentials, an unreadable ledger: said, asked again later
                tell(self, self.refresh_failed, error)
                wait = self.monitor.next_refresh_s
            except Exception:
                if self.leaving:  # the monitor was closed under a refresh: nobody is watching
                    return
                raise
            else:
                tell(self, self.show_snapshot, snapshot)
                wait = snapshot.next_refresh_s
            self.wake.wait(wait)
            self.wake.clear()

    def refresh_now(self) -> None:
        """Refresh without waiting for the next turn (after an action, or ``r``)."""
        self.wake.set()

    def refresh_failed(self, error) -> None:
        self.query_one("#freshness", Static).update(error_text(error))
        if self.snapshot is None:
            self.query_one("#money", Static).update("Nothing could be read yet.")

    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.query_one("#money", Static).update(money_line(snapshot))
        self.tick()
        self.fill()
        for screen in self.app.screen_stack:
            # a screen just pushed is on the stack before its widgets are: it reads its item itself once mounted
            if screen is not self and screen.is_mounted and hasattr(screen, "snapshot_taken"):
                screen.snapshot_taken(snapshot)

    def tick(self) -> None:
        """The header's "updated N s ago", every second: it ages while nothing comes."""
        if self.snapshot is not None:
            self.query_one("#freshness", Static).update(freshness_lines(self.snapshot, self.clock()))

    def fill(self) -> None:
        if self.snapshot is None:
            return
        table = self.query_one(ResourceTable)
        was = self.keys[table.cursor_row] if 0 <= table.cursor_row < len(self.keys) else None
        headers = columns_for(room_for(table))
        mark = f" · {OURS} made by sagewiz" if headers == NARROW else ""
        self.query_one("#title", Static).update(f"[b]sagewiz monitor[/] · {where(self.snapshot)}{mark}")
        rows, self.keys = table_rows(self.snapshot, headers)
        fill_table(table, headers, rows, room_for(table), give_way=[(0, 16), (2, 12)], keys=self.keys)
        at = self.keys.index(was) if was in self.keys else next(
            (n for n, key in enumerate(self.keys) if not key.startswith(HEADING)), 0)
        table.move_cursor(row=at, animate=False)
        self.show_picked()

    def on_resize(self) -> None:
        self.call_after_refresh(self.fill)

    # ---- the highlighted row ---------------------------------------------------------------------
    def picked(self) -> Item | None:
        table = self.query_one(ResourceTable)
        key = self.keys[table.cursor_row] if 0 <= table.cursor_row < len(self.keys) else ""
        return self.find(key)

    def find(self, key: str) -> Item | None:
        """The item of the snapshot whose key (region:kind:name) is ``key``."""
        if self.snapshot is None or not key or key.startswith(HEADING):
            return None
        return next((i for i in self.snapshot.items if item_key(i) == key), None)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show_picked()

    def show_picked(self) -> None:
        item = self.picked()
        table = self.query_one(ResourceTable)
        key = self.keys[table.cursor_row] if 0 <= table.cursor_row < len(self.keys) else ""
        if item is not None:
            text = about(item)
        elif key.startswith(HEADING) and self.snapshot is not None:
            region, kind = key[len(HEADING):].rsplit(":", 1)
            section = self.snapshot.section(region, kind)
            text = f"[b]{KIND_TITLES[kind]}[/] · " + "; ".join(
                [section.problem or "up to date", *section.notes]) if section else ""
        else:
            text = ""
        self.query_one("#picked", Static).update(text)
        self.refresh_bindings()

    def check_action(self, action: str, parameters) -> bool | None:
        if action in ("stop", "delete", "stop_notebook", "ask"):
            return allowed(action, self.picked())
        return True

    # ---- keys --------------------------------------------------------------------------------------
    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        item = self.picked()
        if item is not None:
            self.open(item)

    def open(self, item: Item) -> None:
        """The detail of a training or tuning job; an endpoint in service is asked about a picture."""
        if item.kind == TRAINING:
            from sagewiz.tui.screens.monitor_job import MonitorJobScreen

            self.app.push_screen(MonitorJobScreen(self, item))
        elif item.kind == TUNING:
            from sagewiz.tui.screens.monitor_tuning import MonitorTuningScreen

            self.app.push_screen(MonitorTuningScreen(self, item))
        elif item.kind == ENDPOINT and allowed("ask", item):
            self.ask_about_a_picture(item)
        else:
            keys = [f"{key} {word}" for action, key, word in (("stop_notebook", "n", "stops it"), ("delete", "d", "deletes it"))
                    if allowed(action, item)]
            self.notify(f"{item.name}: {item.status}." + (f" {keys[0].capitalize()}." if keys else ""), timeout=5)

    def action_stop(self) -> None:
        self._act("stop")

    def action_delete(self) -> None:
        self._act("delete")

    def action_stop_notebook(self) -> None:
        self._act("stop_notebook")

    def _act(self, action: str) -> None:
        item = self.picked()
        if allowed(action, item):
            self.act_on(item)

    def action_ask(self) -> None:
        item = self.picked()
        if allowed("ask", item):
            self.ask_about_a_picture(item)

    def action_refresh(self) -> None:
        self.query_one("#freshness", Static).update("Refreshing …")
        self.refresh_now()

    def action_leave(self) -> None:
        self.dismiss(None)
