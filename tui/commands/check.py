"""``sagewiz check DIR``: say whether a folder of pictures can be trained on, and what to fix.

Only formatting lives here; :func:`sagewiz.core.dataset.scan.scan_dataset` does the checking.
Exit code 0 when the dataset is usable, 2 when it is not, a folder that is missing or can't be
read included (nothing there can be trained on either); 1 for a bad flag value.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from rich import box
from rich.markup import escape
from rich.table import Table

from sagewiz.core.dataset.report import SPLIT_HERE
from sagewiz.core.dataset.scan import ERROR, INFO, WARNING, DatasetReport, count_images, scan_dataset
from sagewiz.core.errors import InputError
from sagewiz.tui.console import err_console, fitted_table, print_error, print_json_error, progress_bar

NOT_USABLE = 2
# A folder with thousands of grayscale pictures would print thousands of identical rows; show a
# few of each reason and count the rest (--json has them all).
_ROWS_PER_REASON = 5
_MAX_ROWS = 60
_STYLE = {ERROR: "bold red", WARNING: "yellow", INFO: "dim"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a folder of labelled pictures before training: classes, counts, damaged files",
        description="Open every picture under DIR and report the classes, how many pictures each "
        "split has, and every file that will be skipped or converted, with the reason. DIR holds "
        "one folder per class (cat/, dog/, …), or train/ and test/ folders with class folders inside, or the pictures "
        "themselves with their labels in a labels.csv (file,label) or in their names (cat.0.jpg, dog.0.jpg). "
        "Exit status: 0 ready to train, 2 not ready (or DIR is missing or can't be read), 1 a bad flag value.",
    )
    parser.add_argument("dir", metavar="DIR", help="the folder that holds your class folders (or train/ and test/)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    # Taken as text and checked here, so a bad value gets sagewiz's own message (exit 1)
    # instead of argparse's usage dump.
    parser.add_argument("--mini-batch-size", default="32", help="the mini_batch_size you plan to train with (default 32)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Scan with a progress bar, then print the report (or its JSON); 0 if usable, else 2."""
    mini_batch_size = _whole_number(args.mini_batch_size, "--mini-batch-size")
    try:
        total = count_images(args.dir)
    except InputError as error:  # the folder itself: missing, not a folder, unreadable
        print_error(error)
        if args.json:
            print_json_error(error)
        return NOT_USABLE
    checked = 0

    with progress_bar("Checking pictures", total) as bar:
        def advance(n: int) -> None:
            nonlocal checked
            checked += n
            bar(n)

        try:
            report = scan_dataset(args.dir, mini_batch_size=mini_batch_size, progress=advance)
        except KeyboardInterrupt:
            err_console.print(f"Stopped after checking {checked:,} of {total:,} pictures. What was checked is remembered: "
                              f"`sagewiz check {_safe(args.dir)}` again goes on from there.")
            return 130
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    return 0 if report.usable else NOT_USABLE


def _whole_number(text: str, flag: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{flag} {text!r} is not a whole number.", hint=f"Give a number such as {flag} 32.") from None
    if value < 1:
        raise InputError(f"{flag} must be at least 1, not {value}.", hint=f"Give a number such as {flag} 32.")
    return value


def _safe(text: str) -> str:
    """Markup-escaped text that any terminal can print (odd file-name bytes become �)."""
    return escape(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def print_report(report: DatasetReport) -> None:
    """The report for a person: classes × splits, formats and sizes, problems, verdict."""
    err_console.print(f"[bold]{_safe(report.root)}[/]: {report.layout}")
    if report.classes:
        err_console.print(_classes_table(report))
    err_console.print(_facts_line(report))
    if report.problems:
        err_console.print(_problems_table(report))
    style = "bold green" if report.usable else "bold red"
    first, *rest = report.summary
    err_console.print(f"[{style}]{_safe(first)}[/]")
    for line in rest:
        err_console.print(f"  {_safe(line)}")


def _classes_table(report: DatasetReport) -> Table:
    splits = list(report.counts)
    title = "Pictures per class" + (" (after the split)" if len(report.counts) and report.layout in SPLIT_HERE else "")
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Label", justify="right")
    table.add_column("Class")
    for split in splits:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right", style="bold")
    for cls in report.classes:
        row = [report.counts[split].get(cls.name, 0) for split in splits]
        cells = [f"[red]{n}[/]" if n == 0 else f"{n:,}" for n in row]
        table.add_row(str(cls.label), _safe(cls.name), *cells, f"{sum(row):,}")
    totals = [sum(report.counts[split].values()) for split in splits]
    table.add_section()
    table.add_row("", "all", *(f"{n:,}" for n in totals), f"{sum(totals):,}")
    return table


def _facts_line(report: DatasetReport) -> str:
    parts = [f"{report.usable_images:,} of {report.total_images:,} pictures usable"]
    if report.formats:
        parts.append(", ".join(f"{fmt} {n:,}" for fmt, n in report.formats.items()))
    if report.width_range and report.height_range:
        (w0, w1), (h0, h1) = report.width_range, report.height_range
        parts.append(f"width {_span(w0, w1)} px, height {_span(h0, h1)} px")
    if report.ignored_files:
        parts.append(f"{report.ignored_files:,} other file{'s' * (report.ignored_files != 1)} ignored")
    return " · ".join(parts)


def _span(low: int, high: int) -> str:
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


def _problems_table(report: DatasetReport):
    """A row per problem (a few of each reason); in 80 columns the reason and then the path wrap;
    in fewer, a block of lines per problem (console.fitted_table)."""
    counts = Counter((p.severity, p.reason, p.action) for p in report.problems)
    rows = []
    shown: Counter = Counter()
    for problem in report.problems:
        key = (problem.severity, problem.reason, problem.action)
        shown[key] += 1
        if shown[key] > _ROWS_PER_REASON:
            if shown[key] == _ROWS_PER_REASON + 1:
                rows.append((f"[italic]… and {counts[key] - _ROWS_PER_REASON:,} more[/]", "", _safe(problem.reason), problem.action))
            continue
        if len(rows) == _MAX_ROWS:
            left = len(report.problems) - sum(shown.values()) + 1
            rows.append((f"[italic]… {left:,} more; sagewiz check --json lists them all[/]", "", "", ""))
            break
        style = _STYLE[problem.severity]
        rows.append((_safe(problem.path), f"[{style}]{problem.severity}[/]", _safe(problem.reason), problem.action))
    # the file first: stacked in a narrow terminal, each problem is headed by its file
    return fitted_table(("File or folder", "", "Reason", "Action"), rows, give_way=[(2, 24), (0, 20), (3, 9)],
                        title="What sagewiz found")
