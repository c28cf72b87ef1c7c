"""``sagewiz im2rec PREFIX ROOT [flags]``: MXNet's im2rec.py without MXNet.

The flags are im2rec's; the outputs are its files, byte for byte (pass-through and lists). What
is added: a progress bar on stderr, a final count, every skipped file listed with its reason, and
the same bytes with any number of threads.
"""

from __future__ import annotations

import argparse
import os

from rich.markup import escape

from sagewiz.core.dataset.listing import DEFAULT_EXTENSIONS
from sagewiz.core.dataset.im2rec import Im2recRequest, ListReport, PackReport, make_lists, pack_lists
from sagewiz.tui.console import err_console, fitted_table, progress_bar


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "im2rec",
        help="make .lst image lists and pack .rec record files (a drop-in for MXNet's im2rec.py)",
        description="Create an image list, or pack the images of PREFIX*.lst into .rec/.idx record files, "
        "exactly as MXNet's im2rec.py does, without MXNet.",
    )
    parser.add_argument("prefix", help="prefix of the .lst/.rec files (folder + start of the file names)")
    parser.add_argument("root", help="folder that holds the images")
    lists = parser.add_argument_group("making image lists")
    lists.add_argument("--list", action="store_true", help="walk ROOT and write PREFIX.lst (or _train/_val/_test lists) instead of packing")
    lists.add_argument("--exts", nargs="+", action="extend", help="image extensions to list (default: .jpeg .jpg .png; case-insensitive)")
    lists.add_argument("--chunks", type=int, default=1, help="split the list into this many chunks (default 1)")
    lists.add_argument("--train-ratio", type=float, default=1.0, help="share of images for training (default 1.0)")
    lists.add_argument("--test-ratio", type=float, default=0.0, help="share of images for testing (default 0)")
    lists.add_argument("--recursive", action="store_true", help="one label per folder that holds images (otherwise only ROOT's own images, label 0)")
    lists.add_argument("--no-shuffle", dest="shuffle", action="store_false", help="keep the walk order instead of shuffling (seed 100, like im2rec)")
    packing = parser.add_argument_group("packing records")
    packing.add_argument("--pass-through", action="store_true", help="store each file's bytes as they are (fastest; no resize)")
    packing.add_argument("--resize", type=int, default=0, help="resize the shorter edge to this many pixels (default 0: keep)")
    packing.add_argument("--center-crop", action="store_true", help="crop the centre square before resizing")
    packing.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100, or PNG compression 0-9 (default 95)")
    packing.add_argument("--num-thread", type=int, default=os.cpu_count() or 1, help="worker threads (default: all cores); the output is the same with any number")
    packing.add_argument("--color", type=int, default=1, choices=[-1, 0, 1], help="1 colour (default), 0 grayscale, -1 as stored")
    packing.add_argument("--encoding", default=".jpg", choices=[".jpg", ".png"], help="encoding of re-encoded images (default .jpg)")
    packing.add_argument("--pack-label", action="store_true", help="store every label of multi-label lists in the record")
    parser.set_defaults(run=run)


def fix_exts(argv: list[str]) -> list[str]:
    """im2rec's ``--exts .jpg .png PREFIX ROOT`` swallows PREFIX and ROOT. Here the extension
    list ends at the first value that does not start with a dot, so any order works: each
    extension becomes its own ``--exts=EXT``."""
    fixed: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token != "--exts":
            fixed.append(token)
            continue
        for value in tokens:
            if value.startswith(".") and len(value) > 1:
                fixed.append(f"--exts={value}")
            else:
                fixed.append(value)
                break
    return fixed


def _request(args: argparse.Namespace) -> Im2recRequest:
    return Im2recRequest(
        prefix=args.prefix,
        root=args.root,
        exts=tuple(args.exts or DEFAULT_EXTENSIONS),
        chunks=args.chunks,
        train_ratio=args.train_ratio,
        test_ratio=args.test_ratio,
        recursive=args.recursive,
        shuffle=args.shuffle,
        pass_through=args.pass_through,
        resize=args.resize,
        center_crop=args.center_crop,
        quality=args.quality,
        num_thread=args.num_thread,
        color=args.color,
        encoding=args.encoding,
        pack_label=args.pack_label,
    )


def run(args: argparse.Namespace) -> int:
    request = _request(args)
    if args.list:
        _show_lists(make_lists(request))
        return 0
    reports = pack_lists(request, progress_factory=lambda name, total: progress_bar(f"Packing {name}", total))
    _show_packs(reports)
    return 0


def _show_lists(report: ListReport) -> None:
    if report.classes:
        labels = ", ".join(f"{name} → {label}" for name, label in report.classes.items())
        err_console.print(f"Labels: {labels}")
    for path, count in report.written:
        err_console.print(f"Wrote {path} ({count:,} images)")
    for left in report.left_out:  # where sagewiz differs from im2rec.py, which follows every link again
        err_console.print(f"[yellow]Left out[/] {escape(left.path)}: {escape(left.reason)} (MXNet's im2rec.py would list it again).")
    for name in report.unlistable:
        err_console.print(f"[yellow]Left out[/] {name}: its name holds a tab or line break, which a .lst file can't store; rename it.")
    err_console.print(f"Listed {report.listed:,} images from {report.root}.")


def _show_packs(reports: list[PackReport]) -> None:
    for report in reports:
        result = report.result
        for bad in report.bad_lines:
            err_console.print(f"[yellow]Skipped line {bad.line_number}[/] of {report.list_path.name}: {bad.reason}: {bad.text!r}")
        err_console.print(
            f"Packed {result.packed:,} of {result.listed:,} images from {report.list_path.name} into "
            f"{result.rec_path.name} ({result.bytes_written / 1e6:,.1f} MB)"
            + (f"; {_converted(result.converted)}" if result.converted else "")
            + (f"; [yellow]{len(result.skipped):,} skipped[/]:" if result.skipped else ".")
        )
        if result.skipped:
            # the reason wraps first, then the path; in a narrow terminal a block of lines per file
            rows = [(escape(skipped.path), escape(skipped.reason)) for skipped in result.skipped]
            err_console.print(fitted_table(("file", "why it was skipped"), rows, give_way=[(1, 16), (0, 24)]))


def _converted(by_format: dict[str, int]) -> str:
    total = sum(by_format.values())
    each = ", ".join(f"{name} {n:,}" for name, n in sorted(by_format.items()))
    return f"{total:,} converted to JPEG ({each}), which the algorithm reads"
