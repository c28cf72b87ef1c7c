"""``sagewiz predict MODEL IMAGE_OR_FOLDER…``: what a model says about pictures, outside any journey.

Only formatting lives here: :func:`sagewiz.core.model.find.find_model` finds the model (an archive,
a training job, an endpoint), :mod:`sagewiz.core.predict` predicts, writes the CSV and sorts the
copies. Exit status: 0 when pictures were predicted (some may have been unreadable: they are
listed), 1 for an error or when no picture could be predicted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape

from sagewiz.core.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="say what a model sees in pictures or folders of pictures; --sort-into copies them into a folder per class",
        description="Predict the class of each picture with MODEL: a model.tar.gz (trained here or on SageMaker), "
        "a training job's name or an endpoint's name. A folder is walked for .jpg, .jpeg and .png files and "
        "predicted in batches on this computer (an endpoint gets one request a picture). Your pictures are only "
        "read: --sort-into copies them. Exit status: 0 when pictures were predicted (unreadable ones are listed), "
        "1 for an error or when none could be.",
    )
    parser.add_argument("model", metavar="MODEL", help="a model.tar.gz, an s3:// URI, a training job or an endpoint")
    parser.add_argument("pictures", metavar="IMAGE_OR_FOLDER", nargs="+", help="picture files and folders of pictures")
    parser.add_argument("--top-k", default=None, metavar="K",
                        help="show the K most likely classes of each picture (default: the model's top_k, or 1)")
    parser.add_argument("--json", action="store_true", help="print every picture's probabilities as JSON on stdout")
    parser.add_argument("--csv", metavar="FILE", help="also write path, predicted class, probability and each class's probability to FILE")
    parser.add_argument("--sort-into", metavar="DIR", help="copy each picture into DIR/<predicted class>/ (the originals stay as they are)")
    parser.add_argument("--batch-size", default="", metavar="N", help="pictures per forward pass on this computer (default 64)")
    parser.add_argument("--backend", choices=("local", "aws"), help="the backend MODEL is on, when it is a job or endpoint "
                        "(default: wherever the ledger finds it)")
    parser.add_argument("--region", default="", help="AWS region (a SageMaker job or endpoint, an s3:// model)")
    parser.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE or 'default')")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.memory import keep_freed_memory
    from sagewiz.core.model.find import find_model
    from sagewiz.core.predict import check_sort_target, find_pictures, predict_pictures, sort_into, write_csv
    from sagewiz.tui.console import transfer_bar, err_console, progress_bar

    top_k = _whole_number(args.top_k, "--top-k") if args.top_k is not None else None
    batch_size = _whole_number(args.batch_size, "--batch-size") if args.batch_size else None
    pictures = find_pictures(args.pictures)  # a missing picture is said before the model is loaded
    if args.sort_into:
        check_sort_target(args.sort_into, pictures)
    keep_freed_memory()  # a command that ends when the pictures are answered: each batch reuses the last one's memory
    with Ledger() as ledger:  # open while predicting: an endpoint's backend reads it for each request
        with transfer_bar("Downloading the model") as downloaded:
            found = find_model(args.model, ledger=ledger, region=args.region or None, profile=args.profile, progress=downloaded,
                               backend=args.backend)
        with progress_bar(f"Predicting with {escape(found.described)}", len(pictures.paths)) as advance:
            result = predict_pictures(found, pictures, progress=advance, batch_size=batch_size)
    if args.csv:
        write_csv(result, args.csv)
    copies = []
    if args.sort_into and result.predictions:
        with progress_bar("Copying pictures", len(result.predictions)) as advance:
            copies = sort_into(result, args.sort_into, pictures, progress=advance)
    k = min(top_k or result.top_k, len(result.class_names) or 1)
    if not result.predictions:
        if not args.json:
            _print_result(result, k, err_console)  # each file's reason
        reasons = "; ".join(f"{Path(u.path).name}: {u.reason}" for u in result.unreadable[:3])
        raise InputError(f"No picture could be predicted ({reasons}{' …' if len(result.unreadable) > 3 else ''}).",
                         title="Nothing predicted", hint="Name JPEG or PNG pictures, or folders that hold them.")
    if args.json:
        data = result.to_dict(k)
        if args.sort_into:
            data["sorted_into"] = [{"path": picture, "copy": copy} for picture, copy in copies]
        print(json.dumps(data, indent=2))
    else:
        if result.runs_as:  # which form of the network answered, and in which precision
            err_console.print(f"[dim]{escape(result.runs_as)}[/]")
        _print_result(result, k, err_console)
        if args.csv:
            err_console.print(f"Wrote {len(result.predictions):,} rows to [bold]{escape(args.csv)}[/]")
        if args.sort_into:
            classes = len({Path(copy).parent.name for _, copy in copies})
            err_console.print(f"Copied {len(copies):,} pictures into {classes} class folder{'s' * (classes != 1)} under "
                              f"[bold]{escape(args.sort_into)}[/]; the originals are unchanged.")
    return 0


def _whole_number(text: str, flag: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{flag} {text!r} is not a whole number.", hint=f"Give a number such as {flag} 3.") from None
    if value < 1:
        raise InputError(f"{flag} must be at least 1, not {value}.", hint=f"Give a number such as {flag} 3.")
    return value


def _print_result(result, k: int, console) -> None:
    from sagewiz.tui.console import fitted_table
    from sagewiz.tui.words import shown_path

    if not result.class_names_known:
        console.print("[yellow]The class names of this model are unknown[/] (SageMaker keeps none in its archive): its "
                      "classes are called class 0, class 1… in label order. Name its training job instead of the archive "
                      "to see the names of the run that trained it.")
    headers = ("Picture", *(f"#{rank}" if k > 1 else "Prediction" for rank in range(1, k + 1)))
    rows = [(escape(shown_path(answer.path)),
             *(f"{escape(result.class_names[label])} [dim]{probability:.1%}[/]" for label, probability in answer.top(k)))
            for answer in result.predictions]
    if rows:
        console.print(fitted_table(headers, rows, give_way=[(0, 20)], title=f"What {escape(result.model)} sees"))
    if result.unreadable:
        unreadable = [(escape(shown_path(u.path)), escape(u.reason)) for u in result.unreadable]
        console.print(fitted_table(("File", "Why it couldn't be predicted"), unreadable, give_way=[(1, 24), (0, 20)],
                                   title=f"{len(unreadable):,} file{'s' * (len(unreadable) != 1)} not predicted"))
    console.print(f"[bold green]{len(result.predictions):,} picture{'s' * (len(result.predictions) != 1)} predicted[/]"
                  + (f", {len(result.unreadable):,} not" if result.unreadable else "") + ".")
