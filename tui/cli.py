"""The ``sagewiz`` console script: scriptable subcommands over the same core as the wizard."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

# command → its module under sagewiz.tui.commands, in the order --help lists them. Only the module of
# the command being run is imported: each pulls in rich, Pillow or torch, and a command's
# start-up time is part of what the user waits for (docs/benchmarks.md).
COMMANDS = {"check": "check", "sample": "sample", "im2rec": "im2rec", "run": "run", "deploy": "deploy", "monitor": "monitor",
            "predict": "predict", "serve": "serve", "pretrained": "pretrained", "resources": "resources",
            "cleanup": "resources", "setup": "setup", "regions": "regions"}


def _command(name: str) -> ModuleType:
    return importlib.import_module(f"sagewiz.tui.commands.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagewiz",
        description="From a folder of labelled images to a trained image classifier, "
        "on AWS SageMaker or on this machine. With no COMMAND, sagewiz opens the wizard: full-screen, "
        "one step at a time.",
        epilog="`sagewiz COMMAND --help` explains a command. Start with `sagewiz sample DIR` for a small dataset "
        "to try, or `sagewiz` for the wizard.",
    )
    # only shown here: `sagewiz --plain` is taken before the commands are parsed (main)
    parser.add_argument("--plain", action="store_true",
                        help="open the wizard as plain questions, one by one, for a terminal where the full-screen "
                        "wizard doesn't work")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = dict.fromkeys(COMMANDS.values()) if only is None else (COMMANDS[only],)
    for module in modules:
        _command(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    only = argv[0] if argv[:1] and argv[0] in COMMANDS else None
    if only == "im2rec":
        argv = _command("im2rec").fix_exts(argv)
    args = None
    try:
        if not argv or argv == ["--plain"]:  # `sagewiz`: the wizard, full-screen or as plain questions
            from sagewiz.tui.app import run_wizard

            return run_wizard(plain=bool(argv))
        parser = build_parser(only)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 0
        return args.run(args) or 0
    except KeyboardInterrupt:
        from sagewiz.tui.console import err_console

        err_console.print("Interrupted; nothing half-written was kept.")
        return 130
    except Exception as error:  # noqa: BLE001 - said in a few lines; a bug's traceback is kept in a file
        from sagewiz.core.errors import WizardError
        from sagewiz.tui.console import err_console, print_error, print_json_error

        # a script that asked for --json reads stdout: it gets the error there too (and, from
        # `sagewiz run`, the step it failed in), not an empty output it can't parse
        as_json = bool(getattr(args, "json", False))
        step = {"step": args.step} if hasattr(args, "step") else {}
        from sagewiz.core.disk import disk_full_error, is_disk_full

        if is_disk_full(error):  # met where no step said it first: still this computer's disk, not a bug
            from sagewiz.core.ledger import default_ledger_path

            folder = Path(error.filename).parent if error.filename else default_ledger_path().parent
            error = disk_full_error(error, folder, "write a file")
        if isinstance(error, WizardError):
            print_error(error)
            if as_json:
                print_json_error(error, **step)
            return 1
        from sagewiz.tui.words import UNEXPECTED, fault_report

        command = " ".join(["sagewiz", *argv[:1]])
        what_next = "Try again; `sagewiz resources` lists what sagewiz has made so far."
        err_console.print(f"[bold red]{UNEXPECTED}:[/] " + fault_report(error, command, what_next))
        if as_json:
            from sagewiz.core.ledger import default_ledger_path
            from sagewiz.tui.words import ERRORS_LOG

            log = default_ledger_path().parent / ERRORS_LOG
            print_json_error(WizardError(f"{type(error).__name__}: {error}", title=UNEXPECTED,
                                         hint=f"{what_next} This is a fault in sagewiz, not in what you did; "
                                         f"the details are in {log}."), **step)
        return 1


if __name__ == "__main__":
    sys.exit(main())
