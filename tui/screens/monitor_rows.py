"""What the monitor's screen says, as text: the header's two figures and how current they are,
and a row per resource under a heading row per kind (and region), in the columns that fit.

Pure functions of a :class:`Snapshot` and the time now, so the screen, its tests and its pictures
read the same words. The plain form of the same snapshot is tui/commands/monitor_text.py; the
sentence saying how current a section is comes from there.
"""

from __future__ import annotations

from dataclasses import replace

from rich.markup import escape

from sagewiz.core.monitor.model import KIND_TITLES, Item, Section, Snapshot
from sagewiz.tui.commands.monitor_text import freshness, span

WIDE = ("name", "status", "instance", "started", "for", "so far", "per hour", "by")
OURS = "◆"
NARROW = ("name", "status", "instance", "so far", "/hour", " ")
"""At 80 columns: who made it is a mark (◆ sagewiz), so that a name like sagewiz-1a2b3c4d-endpoint
and every money column stay on one line, and the tutorial's leftovers fit in 24 lines."""
WIDE_ENOUGH = 104
"""Columns from which the start and duration of each thing fit beside its money."""
HEADING = "heading:"
"""How a heading row's key begins (the rest is region:kind): nothing to open or stop there."""


def where(snapshot: Snapshot) -> str:
    if snapshot.backend == "local":
        return "on this computer"
    regions = snapshot.regions
    return f"SageMaker in {', '.join(regions) if len(regions) <= 3 else f'{len(regions)} regions'}"


def money_line(snapshot: Snapshot) -> str:
    """What bills per hour now, and today's spend so far: the two figures that matter first."""
    if snapshot.backend == "local":
        running = sum(1 for i in snapshot.items if i.status in ("InProgress", "InService", "Creating", "Stopping"))
        return f"[b]Free[/]: everything here runs on this computer · {running} running now"
    billing = len(snapshot.billing)
    line = (f"[b]${snapshot.cost_per_hour:.2f}/hour[/] now ({billing} billing) · "
            f"today [b]${snapshot.cost_today:.2f}[/] so far (UTC day)")
    if snapshot.unpriced:
        line += f" · [yellow]plus {len(snapshot.unpriced)} at a price unknown[/]"
    return line


def freshness_lines(snapshot: Snapshot, now: float, most: int = 2) -> str:
    """"updated 3 s ago · next in 7 s", then each section this refresh couldn't update, saying why
    and how old what it shows is, so that nothing kept from before passes for fresh."""
    age = max(now - snapshot.taken_at, 0.0)
    said = f"updated {span(age)} ago" if age >= 1 else "updated just now"
    wait = max(snapshot.next_refresh_s - age, 0.0)
    said += f" · next in {span(wait)}" if wait >= 1 else " · refreshing"
    if snapshot.slowed_down:
        said = f"[yellow]{said} · slower: AWS asked sagewiz to slow down[/]"
    lines = [said]
    stale = snapshot.stale
    for section in stale[:most]:
        title = KIND_TITLES[section.kind] + ("" if len(snapshot.regions) == 1 else f" in {section.region}")
        lines.append(f"[yellow]⚠ {escape(title)} {freshness(section, now).removeprefix('[yellow]')}")
    if len(stale) > most:
        lines.append(f"[yellow]⚠ and {len(stale) - most} more sections not updated[/]")
    return "\n".join(lines)


def columns_for(room: int) -> tuple[str, ...]:
    return WIDE if room >= WIDE_ENOUGH else NARROW


def table_rows(snapshot: Snapshot, headers: tuple[str, ...]) -> tuple[list[tuple[str, ...]], list[str]]:
    """(rows, keys): a heading row per section, then its items. An empty section is one heading
    row saying so; with several regions, empty sections that are up to date are left out."""
    rows, keys = [], []
    many = len(snapshot.regions) > 1
    for section in snapshot.sections:
        if many and not section.items and section.fresh:
            continue
        rows.append(heading(section, headers, many))
        keys.append(f"{HEADING}{section.region}:{section.kind}")
        for item in section.items:
            cells = row(item, headers)  # what a stale section kept from before is dimmed: it never looks fresh
            rows.append(cells if section.fresh else tuple(f"[dim]{cell}[/]" if cell else cell for cell in cells))
            keys.append(item_key(item))
    return rows, keys


def item_key(item: Item) -> str:
    return f"{item.region}:{item.kind}:{item.name}"


def heading(section: Section, headers: tuple[str, ...], many: bool) -> tuple[str, ...]:
    title = KIND_TITLES[section.kind] + (f" · {section.region}" if many else "")
    count = f" ({len(section.items)})" if section.items else ": none"
    state = "" if section.fresh else "[b yellow]⚠ stale[/]"
    return (f"[b]{escape(title)}[/]{count}", state) + ("",) * (len(headers) - 2)


def row(item: Item, headers: tuple[str, ...]) -> tuple[str, ...]:
    cells = {"name": escape(item.name), "status": status(item), "instance": instance(item),
             "started": item.started.astimezone().strftime("%m-%d %H:%M") if item.started else "—",
             "for": span(item.duration_s) if item.duration_s is not None else "—",
             "so far": so_far(item), "per hour": per_hour(item), "/hour": per_hour(item),
             "by": "sagewiz" if item.made_by_sagewiz else "other", " ": OURS if item.made_by_sagewiz else ""}
    return tuple(cells[header] for header in headers)


def status(item: Item) -> str:
    style = "green" if item.status in ("InService", "Completed") else "yellow" if item.status in (
        "InProgress", "Pending", "Creating", "Stopping", "Updating") else "red" if item.status == "Failed" else ""
    return f"[{style}]{escape(item.status)}[/]" if style else escape(item.status)


def instance(item: Item) -> str:
    if not item.instance_type:
        return "—"
    return escape(item.instance_type) + (f" ×{item.instance_count}" if item.instance_count else "")


def per_hour(item: Item) -> str:
    if item.backend == "local":
        return "free"
    if item.cost_per_hour is None:
        return "[yellow]unknown[/]"
    return f"[b]${item.cost_per_hour:.3f}[/]" if item.cost_per_hour else "—"


def so_far(item: Item) -> str:
    if item.backend == "local":
        return "free"
    return "?" if item.cost_so_far is None else f"${item.cost_so_far:.2f}"


def about(item: Item) -> str:
    """The line under the table about the highlighted row: what its columns leave out."""
    said = [f"[b]{escape(item.name)}[/]", f"{OURS} made by sagewiz" if item.made_by_sagewiz else "not made by sagewiz"]
    secondary = str(item.details.get("secondary_status") or "")
    if secondary and secondary != item.status:
        said.append(escape(secondary))
    if item.instance_type:
        said.append(instance(item))
    if item.started:
        said.append(f"started {item.started.astimezone().strftime('%Y-%m-%d %H:%M')}"
                    + (f", for {span(item.duration_s)}{'' if item.ended else ' so far'}" if item.duration_s is not None else ""))
    if item.parent:
        said.append(f"a trial of {escape(item.parent)}")
    if item.note:
        said.append(escape(item.note))
    if item.backend != "local" and item.price_source:
        said.append(f"price: {escape(item.price_source)}")
    return " · ".join(said)


def summary(item: Item, status_now: str = "") -> str:
    """A job's line at the top of its detail: status, machines, time and money."""
    said = [status(replace(item, status=status_now or item.status))]
    secondary = str(item.details.get("secondary_status") or "")
    if secondary and secondary not in (item.status, status_now):
        said[0] += f" ({escape(secondary)})"
    if item.instance_type:
        said.append(instance(item))
    if item.started:
        since = item.started.astimezone().strftime("%m-%d %H:%M")
        took = "" if item.duration_s is None else span(item.duration_s)
        said.append(f"ran {took} from {since}" if item.ended else f"running {took} since {since}" if took else f"since {since}")
    if item.backend == "local":
        said.append("free (this computer)")
    elif item.cost_per_hour:
        said.append(f"{so_far(item)} so far at {per_hour(item)}/hour")
    else:
        said.append(f"{so_far(item)} so far, price unknown" if item.cost_per_hour is None else f"cost {so_far(item)}")
    if item.parent:
        said.append(f"a trial of {escape(item.parent)}")
    if item.note:
        said.append(escape(item.note))
    return " · ".join(said)
