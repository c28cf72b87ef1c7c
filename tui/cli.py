"""The ``sagewiz`` console script: scriptable subcommands over the same core as the wizard."""

from __future__ import annotations

import argparse
import sys

from sagewiz.core.errors import WizardError
from sagewiz.tui.commands import check, im2rec, sample
from sagewiz.tui.console import err_console, print_error

COMMANDS = (check, sample, im2rec)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagewiz",
        description="From a folder of labelled images to a trained image classifier, "
        "on AWS SageMaker or on this machine.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["im2rec"]:
        argv = im2rec.fix_exts(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 0
    try:
        return args.run(args) or 0
    except WizardError as error:
        print_error(error)
        return 1
    except KeyboardInterrupt:
        err_console.print("Interrupted; nothing half-written was kept.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
