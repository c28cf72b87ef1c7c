"""``sagewiz sample DIR``: write a small real dataset (handwritten digits) to try everything with."""

from __future__ import annotations

import argparse
import json
import shlex

from rich.markup import escape

from sagewiz.core.dataset.sample import SampleSummary, load_digits, write_sample_dataset
from sagewiz.core.errors import InputError
from sagewiz.tui.console import err_console, progress_bar


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="write a small dataset of handwritten digits to try sagewiz with",
        description="Write 1,797 handwritten digits (0-9) as DIR/train/digit_N/*.png and "
        "DIR/test/digit_N/*.png, the folder layout sagewiz expects for your own images.",
    )
    parser.add_argument("dir", metavar="DIR", help="new or empty folder to write to (an earlier sample there is replaced)")
    # Numbers are taken as text and checked by core, so a bad value gets sagewiz's own message
    # and hint (exit 1) instead of argparse's usage dump.
    parser.add_argument("--size", default="32", help="width and height of the images in pixels, 8-512 (default 32)")
    parser.add_argument("--classes", help="digits to include, comma-separated, e.g. 0,1 for a quick two-class try (default: all ten)")
    parser.add_argument("--test-fraction", default="0.2", help="share of each digit's images kept for testing, above 0 and below 0.9 (default 0.2)")
    parser.add_argument("--seed", default="0", help="seed of the train/test split; the same seed gives the same files (default 0)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the sample with a progress bar, then say what was written and what to try next."""
    classes = parse_classes(args.classes)
    with progress_bar("Writing sample images", _expected_images(classes)) as advance:
        summary = write_sample_dataset(
            args.dir,
            size=_number(args.size, int, "--size", "a whole number of pixels such as 32"),
            classes=classes,
            test_fraction=_number(args.test_fraction, float, "--test-fraction", "a number such as 0.2"),
            seed=_number(args.seed, int, "--seed", "a whole number such as 0"),
            progress=advance,
        )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_summary(summary)
    return 0


def parse_classes(text: str | None) -> list[int] | None:
    """``"0,1, 7"`` → ``[0, 1, 7]``; ``None`` (flag not given) means all ten digits."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(
            f"--classes {text!r} is not a list of digits.",
            hint="Write the digits separated by commas, for example --classes 0,1 or --classes 3,5,8.",
        ) from None


def _number(text: str, kind: type, flag: str, example: str):
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"{flag} {text!r} can't be read as a number.", hint=f"Give {example}.") from None


def _expected_images(classes: list[int] | None) -> int:
    # Only sizes the progress bar; bad digits are reported by core a moment later.
    return sum(1 for digit, _ in load_digits() if classes is None or digit in classes)


def _print_summary(summary: SampleSummary) -> None:
    total = summary.train_total + summary.test_total
    labels = "all ten digits" if len(summary.classes) == 10 else "the digits " + ", ".join(map(str, summary.classes))
    err_console.print(
        f"[green]Wrote {total:,} images[/] of {labels} "
        f"({summary.image_size}×{summary.image_size} px) to [bold]{escape(str(summary.path))}[/]"
    )
    err_console.print(
        f"  train/: {summary.train_total:,} images, test/: {summary.test_total:,} images, "
        f"one folder per digit: each folder is a class."
    )
    err_console.print(f"Next, try: [bold]sagewiz check {escape(shlex.quote(str(summary.path)))}[/]")
