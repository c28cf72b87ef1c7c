"""How sagewiz writes things for people, the same in the wizard, plain mode and the commands:
an error as what happened and what to do, a bug with where its details went, a path as the user
writes it, a time in the user's own clock. Markup only (rich), no Textual: a command that has to
say something should not start to load a full-screen app to do it."""

from __future__ import annotations

import time
import traceback
from datetime import datetime
from pathlib import Path

from rich.markup import escape

ERRORS_LOG = "errors.log"
UNEXPECTED = "Something sagewiz did not expect"


def error_text(error) -> str:
    """A WizardError as markup: what happened, then what to do."""
    text = f"[b red]{escape(error.title)}:[/] {escape(error.message)}"
    if getattr(error, "hint", None):
        text += f"\n[yellow]What to do:[/] {escape(error.hint)}"
    return text


def fault_report(error: BaseException, where: str, what_next: str) -> str:
    """A bug, as markup: the error in a line, whose fault it is, ``what_next``, and where its
    traceback was written (there, with ``where`` it happened)."""
    text = (f"[b]{escape(type(error).__name__)}:[/] {escape(str(error))}\n"
            f"This is a fault in sagewiz, not in what you did; your pictures are untouched.\n"
            f"[yellow]What to do:[/] {escape(what_next)}")
    log = write_down(error, where)
    if log is not None:
        text += f"\nThe details are in {escape(shown_path(log))}: please attach it to a bug report."
    return text


def write_down(error: BaseException, where: str) -> Path | None:
    """Append the error's traceback, and ``where`` it happened, to the errors log beside the ledger.
    The log's path, or None if it can't be written."""
    from sagewiz.core.ledger import default_ledger_path

    path = default_ledger_path().parent / ERRORS_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} in {where}\n")
            log.write("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return path


def shown_path(path: Path | str) -> str:
    """``path`` as a user writes it: relative to the current folder when inside it, from ~ when
    inside the home folder, else whole."""
    path = Path(path).expanduser().absolute()
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            relative = path.relative_to(base)
        except ValueError:
            continue
        text = str(relative)
        if text == ".":
            return "." if not prefix else "~"
        return prefix + text
    return str(path)


def local_time(stamp: str) -> str:
    """A ledger time (UTC, ISO 8601) on the user's clock, to the minute: ``2026-11-25 10:41``.
    The ledger keeps UTC so runs compare across machines; people read their own time."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp)  # not a time after all: shown as it is rather than hidden
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural when it isn't one: "1 thing", "2 things"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def these(count: int, noun: str) -> str:
    """``count`` things pointed at, as in "Delete this 1 thing?" or "Delete these 2 things?"."""
    return f"{'this' if count == 1 else 'these'} {counted(count, noun)}"


def resource_name(resource) -> str:
    """A resource as people know it, in the wizard and the commands alike. The packed copy of a
    dataset is named as sagewiz's copy of the folder, by the name the user knows it by: named by the
    folder's path alone, "deleted packed-pictures ~/photos" read as if the photos had gone. The local
    storage is a folder, named as the user writes paths; anything else by its own name."""
    from sagewiz.core.journey import PACKED_KIND

    if resource.kind == PACKED_KIND:
        return f"sagewiz's packed copy of {Path(resource.name).name}/"
    if resource.backend == "local" and resource.kind == "storage" and resource.details.get("path"):
        return shown_path(resource.details["path"])
    return resource.name


def resource_said(resource) -> str:
    """A resource in a sentence ("deleted …"): its kind and name, or the packed copy's name, which
    says what it is already."""
    from sagewiz.core.journey import PACKED_KIND

    return resource_name(resource) if resource.kind == PACKED_KIND else f"{resource.kind} {resource_name(resource)}"


def left_behind(resources: list) -> list[str]:
    """What sagewiz leaves behind as a journey ends, as lines of markup: each endpoint still running,
    where and (on AWS) what it costs, then how many things it keeps and the commands that list and
    delete them. Plain mode ends with these lines and the wizard closes with them; nothing when
    nothing is left."""
    lines = []
    for endpoint in (r for r in resources if r.kind == "endpoint"):
        if endpoint.backend == "local":
            where = f"on this computer{f' at {endpoint.arn_or_url}' if endpoint.arn_or_url else ''} (free)"
        else:
            on = endpoint.details.get("instance_type") or endpoint.region
            cost = "billed per hour" if endpoint.cost_per_hour is None else f"${endpoint.cost_per_hour:.3f} per hour"
            where = f"on AWS ({on}), {cost} until it is deleted"
        lines.append(f"The endpoint {escape(endpoint.name)} is still running {escape(where)}; `sagewiz cleanup` deletes it.")
    if resources:
        kinds = sorted({r.kind.replace("-", " ") for r in resources})
        them = "them" if len(resources) != 1 else "it"
        lines.append(f"sagewiz keeps {counted(len(resources), 'thing')} it made ({escape(', '.join(kinds))}): "
                     f"`sagewiz resources` lists {them}, `sagewiz cleanup` deletes {them}.")
    return lines


class Pace:
    """The rate and the time left of counted work, in words: "1,234 pictures/s, about 2 minutes
    left". Measured from the first report on, so that time spent before the work began (finding
    the files) doesn't count."""

    def __init__(self, unit: str = "pictures", clock=time.monotonic):
        self.unit, self.clock = unit, clock
        self._first: tuple[float, int] | None = None

    def restart(self) -> None:
        self._first = None

    def __call__(self, done: int, total: int) -> str:
        now = self.clock()
        if self._first is None or done < self._first[1]:
            self._first = (now, done)
            return ""
        seconds, count = now - self._first[0], done - self._first[1]
        if seconds < 0.5 or count <= 0:
            return ""
        rate = count / seconds
        left = (total - done) / rate
        said = f"{rate:,.0f} {self.unit}/s" if rate >= 10 else f"{rate:.1f} {self.unit}/s"
        if done >= total:
            return said
        if left < 60:
            return f"{said}, under a minute left"
        return f"{said}, about {left / 60:.0f} minutes left" if left < 5400 else f"{said}, about {left / 3600:.1f} hours left"
