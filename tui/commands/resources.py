"""``sagewiz resources`` and ``sagewiz cleanup``: what sagewiz created, and deleting it.

Both read the ledger, where every backend records a resource before creating it. ``cleanup``
lists what it will delete and what it costs per hour, and asks first (unless ``--yes``).
"""

from __future__ import annotations

import argparse
import json

from rich.markup import escape


def register(subparsers) -> None:
    listing = subparsers.add_parser("resources", help="list everything sagewiz created that still exists",
                                    description="List the jobs, endpoints, storage and packed copies of datasets sagewiz "
                                    "created and has not deleted, with their state and cost per hour.")
    listing.add_argument("--backend", choices=("local", "aws"), help="only this backend's resources")
    listing.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    listing.set_defaults(run=run_resources)
    cleanup = subparsers.add_parser("cleanup", help="delete what sagewiz created (asks first)",
                                    description="Stop and delete every job, endpoint, storage and packed copy of a dataset sagewiz "
                                    "created (your own pictures are never touched). Lists them and asks before "
                                    "deleting anything, unless --yes.")
    cleanup.add_argument("--backend", choices=("local", "aws"), help="only this backend's resources")
    cleanup.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    cleanup.add_argument("--json", action="store_true", help="print what was deleted as JSON on stdout")
    cleanup.set_defaults(run=run_cleanup)


_BACKEND_TITLES = {"local": "On this computer (local backend)", "aws": "On AWS (aws backend)"}


def _tables(resources: list) -> list:
    """A table per backend: kind, name (where it is beneath), state, cost per hour. In 80 columns
    the name and its path or ARN wrap rather than squeeze the other columns; in fewer, a resource
    is a block of lines (console.fitted_table)."""
    from rich.markup import escape

    from sagewiz.tui.console import fitted_table
    from sagewiz.tui.words import resource_name

    tables = []
    for backend in dict.fromkeys(r.backend for r in resources):
        rows = [(r.kind, escape(resource_name(r)), r.state, _cost(r), escape(_where(r))) for r in resources if r.backend == backend]
        # a sagewiz name (sagewiz-1a2b3c4d-endpoint, 25) stays whole; a path or ARN wraps
        tables.append(fitted_table(("kind", "name", "state", "per hour", "where"), rows, beneath={4: 1},
                                   give_way=[(1, 25)], justify={3: "right"}, title=_BACKEND_TITLES.get(backend, backend)))
    return tables


def _cost(resource) -> str:
    if resource.backend == "local" or resource.cost_per_hour == 0:
        return "free"
    return "unknown" if resource.cost_per_hour is None else f"${resource.cost_per_hour:.3f}"


def _where(resource) -> str:
    """Where a resource is, as a person writes it: a folder (not a file:// URI), a URL or an ARN."""
    where = resource.arn_or_url or ""
    if where.startswith("file://"):
        from urllib.parse import unquote, urlparse

        from sagewiz.tui.words import shown_path

        return shown_path(unquote(urlparse(where).path))
    return where


def _as_dicts(resources: list) -> list[dict]:
    return [{"backend": r.backend, "kind": r.kind, "name": r.name, "state": r.state, "where": r.arn_or_url,
             "cost_per_hour": r.cost_per_hour, "created_at": r.created_at} for r in resources]


def _say_what_was_found(ledger, before: set[int], resources: list) -> None:
    """When the backends found what the ledger had forgotten (its file deleted or emptied), say so
    and name them: they are listed and cleaned up like the rest from now on."""
    from rich.markup import escape

    from sagewiz.tui.console import err_console

    found = [r for r in resources if r.id not in before and r.details.get("discovered")]
    if not found:
        return
    places = " and ".join(sorted({"on disk" if r.backend == "local" else "in AWS by sagewiz's tag" for r in found}))
    what = "; ".join(_found(r) for r in found)
    if ledger.started_afresh:
        err_console.print(f"[yellow]The record of what sagewiz made was missing or damaged and was started afresh; "
                          f"these were found {places}:[/] {escape(what)}.")
    else:
        err_console.print(f"[yellow]These were found {places} but were missing from sagewiz's record, "
                          f"and are in it again:[/] {escape(what)}.")


def _found(resource) -> str:
    if resource.kind == "endpoint" and resource.state == "active":
        where = f"at {resource.arn_or_url}" if resource.arn_or_url else f"as process {resource.pid}"
        return f"endpoint {resource.name} (still serving {where})"
    if resource.kind == "storage":
        return f"the storage {resource.arn_or_url or resource.name}"
    return f"{resource.kind.replace('-', ' ')} {resource.name}"


def run_resources(args: argparse.Namespace) -> int:
    from sagewiz.core.backends import live_resources
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.console import err_console

    with Ledger() as ledger:
        before = {r.id for r in ledger.live_resources()}
        resources = live_resources(ledger, args.backend)
        _say_what_was_found(ledger, before, resources)
        per_hour = sum(r.cost_per_hour or 0 for r in resources if r.state in ("active", "running"))
    if args.json:
        print(json.dumps(_as_dicts(resources), indent=2))
    elif not resources:
        err_console.print("sagewiz has nothing running or stored: nothing to clean up.")
    else:
        err_console.print(*_tables(resources))
        err_console.print(f"Running cost: ${per_hour:.2f} per hour. `sagewiz cleanup` deletes all of it.")
    return 0


def run_cleanup(args: argparse.Namespace) -> int:
    from sagewiz.core.backends import delete_resources, live_resources
    from sagewiz.core.ledger import Ledger
    from sagewiz.tui.console import err_console, go_ahead, print_error
    from sagewiz.tui.words import counted, resource_said, these

    with Ledger() as ledger:
        before = {r.id for r in ledger.live_resources()}
        resources = live_resources(ledger, args.backend)
        _say_what_was_found(ledger, before, resources)
        if not resources:
            err_console.print("Nothing to clean up.")
            if args.json:
                print("[]")
            return 0
        err_console.print(*_tables(resources))
        if not args.yes:
            if not go_ahead(f"sagewiz cleanup would delete {these(len(resources), 'thing')} and needs your go-ahead.",
                            f"Delete {these(len(resources), 'thing')}?", hint="Add --yes to delete them without asking.",
                            declined="Nothing was deleted."):
                return 1
        deleted, failed = [], 0
        for resource, error in delete_resources(ledger, resources):
            if error is None:
                deleted.append(resource)
                err_console.print(f"  [green]✓[/] deleted {escape(resource_said(resource))}")
            else:
                failed += 1
                print_error(error)
    if args.json:
        print(json.dumps(_as_dicts(deleted), indent=2))
    if failed:
        err_console.print(f"{counted(failed, 'thing')} could not be deleted; run `sagewiz cleanup` again after fixing the cause.")
        return 1
    return 0
