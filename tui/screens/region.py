"""Step 3: where the training runs. On AWS, every region the algorithm is in, with the GPU types
it offers, the account's quota for them and the price per hour, the recommended one first and the
quota-increase request one key away. On this computer: its CPU or GPU and how long the suggested
settings should take."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Static

from sagewiz.core.estimates import pace_unknown
from sagewiz.tui.background import in_background
from sagewiz.tui.screens.common import ConfirmScreen, StepBar, fill_table, lay_out_again, room_for
from sagewiz.tui.words import error_text

ORDER = {"ready": 0, "no quota": 1, "no capacity": 2, "algorithm missing": 3}


def _price(option) -> str:
    if option is None:
        return ""
    if option.price_per_hour == 0:
        return "free"
    return "unknown" if option.price_per_hour is None else f"${option.price_per_hour:.3f}/h"


def _quota(option) -> str:
    return "quota ?" if option.quota is None else f"quota {option.quota}"


def _pick(options, name):
    return next((o for o in options if o.instance_type == name), None)


def _cheapest(options):
    priced = [o for o in options if o.price_per_hour is not None]
    return min(priced, key=lambda o: o.price_per_hour) if priced else (options[0] if options else None)


def sort_reports(reports: list) -> list:
    """Ready regions first, cheapest recommended training type first within each verdict."""
    def key(report):
        option = _pick(report.training, report.recommended_training)
        price = option.price_per_hour if option and option.price_per_hour is not None else float("inf")
        return ORDER.get(report.verdict, 9), price, report.region
    return sorted(reports, key=key)


class RegionScreen(Screen[str]):
    """Dismisses with "next" once a usable region is chosen (``state.region``), or "back"."""

    BINDINGS = [("enter", "choose", "Use this region"), ("q", "quota", "Request quota"), ("escape", "back", "Back")]

    def __init__(self, state, reports: list | None = None):
        super().__init__()
        self.state = state
        self.reports: list = []
        self.given = reports  # already known (screenshots): shown without asking AWS again

    def compose(self) -> ComposeResult:
        yield StepBar("Where")
        with Vertical(classes="body"):
            lead = ("Which AWS region? sagewiz checked where the Image Classification algorithm is, which GPU types each "
                    "region offers, your account's quota for them and the price per hour."
                    if self.state.backend == "aws" else "Training runs on this computer, free:")
            yield Static(lead, classes="lead")
            yield Static("Checking …", id="status")
            yield DataTable(id="regions", cursor_type="row", zebra_stripes=True)
            yield Static("", id="verdict")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="back")
                if self.state.backend == "aws":
                    yield Button("Request quota (q)", id="quota", disabled=True)
                yield Button("Use this one", variant="primary", id="next", disabled=True)
        yield Footer()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # quotas are an AWS matter: no "Request quota" key on this computer
        return self.state.backend == "aws" if action == "quota" else True

    def on_mount(self) -> None:
        if self.given is not None:
            self.show(self.given)
        else:
            self.check()

    @in_background(exclusive=True)
    def check(self) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError

        try:
            reports = open_backend(self.state.backend, region=self.state.region or None).regions()
        except WizardError as error:
            self.app.call_from_thread(self._failed, error)
            return
        self.app.call_from_thread(self.show, reports)

    @in_background(group="pace")
    def _measure_this_computer(self, hp) -> None:
        """This computer's pace (a few seconds, once), so that the time said is its own."""
        from sagewiz.core.estimates import measure_pace

        measure_pace(hp)
        self.app.call_from_thread(self._measured)

    def _measured(self) -> None:
        if self.is_attached and self.reports:  # not if the user went back meanwhile
            if self.state.report is not None:  # what was measured can make mixed precision the faster choice
                from sagewiz.core.suggestions import suggest_for

                self.state.suggested = suggest_for(self.state.report, prepared=self.state.packed, backend=self.state.backend)
            self.query_one("#status", Static).update(self._local_note())

    def _failed(self, error) -> None:
        self.query_one("#status", Static).update(error_text(error))

    def show(self, reports: list) -> None:
        self.reports = sort_reports(reports)
        table = self.query_one("#regions", DataTable)
        self._fill(table)
        if self.state.region in [r.region for r in self.reports]:
            table.move_cursor(row=[r.region for r in self.reports].index(self.state.region))
        ready = sum(r.verdict == "ready" for r in self.reports)
        self.query_one("#status", Static).update(
            f"{ready} of {len(self.reports)} ready. [dim]★ is the cheapest ready choice; Enter uses the highlighted row.[/]"
            if self.state.backend == "aws" else self._local_note())
        if self.state.backend == "local" and self.state.suggested is not None and pace_unknown(self.state.suggested):
            self._measure_this_computer(self.state.suggested)
        table.focus()
        self._explain()

    def _fill(self, table: DataTable) -> None:
        """A row per region. In 80 columns the training type and the verdict wrap (the quota under the
        type) rather than push the verdict off the edge."""
        aws = self.state.backend == "aws"
        rows = []
        for report in self.reports:
            # the recommended type, or (no quota) the cheapest one offered: what a request would unlock
            training = _pick(report.training, report.recommended_training) or _cheapest(report.training)
            hosting = _pick(report.hosting, report.recommended_hosting) or _cheapest(report.hosting)
            ready = report.verdict == "ready"
            style = "bold green" if ready else "dim"
            mark = "★" if report is self.reports[0] and ready else ""
            rows.append((mark, Text(report.region, style=style),
                         (f"{training.instance_type} ({_quota(training)})" if aws else training.instance_type) if training else "—",
                         _price(training), hosting.instance_type if hosting else "—",
                         Text(report.verdict, style="green" if ready else "yellow")))
        headers = ("", "Region" if aws else "Where", "Training on", "Price", "Hosting on", "Verdict")
        fill_table(table, headers, rows, room_for(table), give_way=[(2, 14), (5, 9)],
                   keys=[report.region for report in self.reports])

    def on_resize(self) -> None:
        if self.reports:
            lay_out_again(self.query_one("#regions", DataTable), self._fill)

    def _local_note(self) -> str:
        from sagewiz.core.estimates import MEASURING, duration, estimate_minutes, pace_unknown

        if self.state.suggested is None:
            return ""
        if pace_unknown(self.state.suggested):
            return f"[dim]{MEASURING}[/]"
        return f"The suggested settings should take about {duration(estimate_minutes(self.state.suggested))} here."

    def _selected(self):
        table = self.query_one("#regions", DataTable)
        if not self.reports or table.cursor_row is None or table.cursor_row >= len(self.reports):
            return None
        return self.reports[table.cursor_row]

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._explain()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_choose()

    def _explain(self) -> None:
        report = self._selected()
        if report is None:
            return
        lines = [f"[b]{escape(report.region)}[/]: {escape(report.verdict)}."]
        if self.state.backend == "aws":
            gpus = ", ".join(f"{o.instance_type} ({_quota(o)}, {_price(o) or 'price unknown'})" for o in report.training[:6])
        else:
            gpus = ", ".join(f"{o.instance_type} ({_price(o)})" for o in report.training)
        if gpus:
            lines.append(f"Training types: {escape(gpus)}{' …' if len(report.training) > 6 else ''}")
        lines += [escape(note) for note in report.notes]
        self.query_one("#verdict", Static).update("\n".join(lines))
        self.query_one("#next", Button).disabled = report.verdict != "ready"
        if self.state.backend == "aws":
            self.query_one("#quota", Button).disabled = self._quota_target(report) is None

    @staticmethod
    def _quota_target(report):
        """The cheapest GPU training type the region offers with a quota of 0."""
        zero = [o for o in report.training if o.quota == 0]
        return min(zero, key=lambda o: (o.price_per_hour is None, o.price_per_hour or 0)).instance_type if zero else None

    def action_choose(self) -> None:
        report = self._selected()
        if report is None or report.verdict != "ready":
            if report is not None:
                self.notify(f"{report.region} can't train yet ({report.verdict}). Choose a ready region, or press q "
                            "to request quota.", severity="warning")
            return
        self.state.region = report.region
        training = _pick(report.training, report.recommended_training)
        self.state.training_instance = report.recommended_training or ""
        self.state.training_price = training.price_per_hour if training else None
        self.state.endpoint_instance = ""  # another region offers other endpoint types: the deploy step asks again
        self.dismiss("next")

    def action_quota(self) -> None:
        report = self._selected()
        target = self._quota_target(report) if report and self.state.backend == "aws" else None
        if target is None:
            return
        question = (f"Ask AWS to raise your quota for {target} training jobs in {report.region} from 0 to 1? "
                    "AWS reviews the request; it is free, and usually answered within a day.")
        self.app.push_screen(ConfirmScreen(question, "Request"),
                             lambda yes: self.request_quota(report.region, target) if yes else None)

    @in_background()
    def request_quota(self, region: str, instance_type: str) -> None:
        from sagewiz.core.backends import open_backend
        from sagewiz.core.errors import WizardError

        try:
            answer = open_backend("aws", region=region).request_quota_increase(region, instance_type)
        except WizardError as error:
            self.app.call_from_thread(self.query_one("#verdict", Static).update, error_text(error))
            return
        self.app.call_from_thread(self.notify, f"Requested: {instance_type} in {region} ({answer}). "
                                  "AWS e-mails you when it is decided; `sagewiz regions` shows the new quota.")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            self.dismiss("back")
        elif event.button.id == "quota":
            self.action_quota()
        else:
            self.action_choose()

    def action_back(self) -> None:
        self.dismiss("back")
