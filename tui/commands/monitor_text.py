"""``sagewiz monitor --plain``: a snapshot as text on stdout — the header figures, then a table per
kind and region that has anything, made to read in 80 columns (``console.fitted_table``).

Each section says how current it is: "updated 3 s ago", or, when the refresh couldn't read it,
why not and how old what it shows is, so nothing kept from before passes for fresh.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from sagewiz.core.monitor.model import KIND_TITLES, Item, Section, Snapshot

# The instance type, start and duration go on a line of their own under the name: in 80 columns
# that keeps a sagewiz name (sagewiz-1a2b3c4d-endpoint) and the money columns whole.
HEADERS = ("name", "status", "so far", "per hour", "made by", "instance")


def print_snapshot(snapshot: Snapshot, console: Console | None = None) -> None:
    """Print ``snapshot`` on ``console`` (default: stdout, 80 columns when it isn't a terminal)."""
    from sagewiz.tui.console import fitted_table

    console = console or Console(highlight=False)
    console.print(header(snapshot))
    empty: dict[str, list[str]] = {}
    for section in snapshot.sections:
        if not section.items and section.fresh:
            empty.setdefault(_place(section.region), []).append(KIND_TITLES[section.kind].lower())
            continue
        console.print()
        console.print(f"[b]{KIND_TITLES[section.kind]}[/] · {_place(section.region)} · {freshness(section, snapshot.taken_at)}")
        for note in section.notes:
            console.print(f"  [dim]{escape(note)}[/]")
        if section.items:
            rows = [row(item) for item in section.items]
            console.print(fitted_table(HEADERS, rows, beneath={5: 0}, give_way=[(0, 16)],
                                       justify={2: "right", 3: "right"}, width=console.width))
    for place, kinds in empty.items():
        said = ", ".join(kinds[:-1]) + (" or " if len(kinds) > 1 else "") + kinds[-1]
        console.print(f"\n[dim]No {said} {place}.[/]")
    for note in snapshot.notes:
        console.print(f"[dim]{escape(note)}[/]")


def header(snapshot: Snapshot) -> str:
    """The two figures that matter first: what bills per hour now, and today's spend so far."""
    where = "On this computer" if snapshot.backend == "local" else \
        f"SageMaker in {', '.join(snapshot.regions) if len(snapshot.regions) <= 3 else f'{len(snapshot.regions)} regions'}"
    line = (f"[b]{where}[/]: {len(snapshot.billing)} billing now, [b]${snapshot.cost_per_hour:.2f}/hour[/]; "
            f"today so far [b]${snapshot.cost_today:.2f}[/] (UTC day)")
    if snapshot.unpriced:
        line += f"; plus {len(snapshot.unpriced)} at a price unknown"
    if snapshot.slowed_down:
        line += f"\n[yellow]AWS asked sagewiz to slow down: the next refresh waits {snapshot.next_refresh_s:.0f} s.[/]"
    return line


def freshness(section: Section, now: float) -> str:
    """"updated 3 s ago", or why this refresh couldn't update it and how old what it shows is."""
    age = section.age_s(now)
    if section.fresh:
        said = f"updated {span(age)} ago" if age and age >= 1 else "updated just now"
        return said + (" (AWS throttled; retried)" if section.slowed_down else "")
    shown = f"showing what was read {span(age)} ago" if age is not None else "nothing read yet"
    return f"[yellow]not updated: {escape(section.problem or 'unknown problem')} ({shown})[/]"


def row(item: Item) -> tuple[str, ...]:
    per_hour = "price unknown" if item.cost_per_hour is None else "free" if item.backend == "local" else \
        f"${item.cost_per_hour:.3f}" if item.cost_per_hour else "—"
    so_far = "—" if item.cost_so_far is None else "free" if item.backend == "local" else f"${item.cost_so_far:.2f}"
    said = [item.instance_type + (f" ×{item.instance_count}" if item.instance_count else "") if item.instance_type else "—"]
    if item.started:
        running = "" if item.ended else " so far"
        said.append(f"started {item.started.astimezone().strftime('%Y-%m-%d %H:%M')}"
                    + (f", for {span(item.duration_s)}{running}" if item.duration_s is not None else ""))
    if item.parent:
        said.append(f"a trial of {item.parent}")
    if item.note:
        said.append(item.note)
    return (escape(item.name), item.status, so_far, per_hour, "sagewiz" if item.made_by_sagewiz else "other",
            escape(" · ".join(said)))


def _place(region: str) -> str:
    return "on this computer" if region == "local" else f"in {region}"


def span(seconds: float | None) -> str:
    """A duration as people say it: 45 s, 12 min, 3 h 05 min, 2 d 4 h."""
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
