"""``sagewiz pretrained list | add PATH | download DEPTH | remove DEPTH``: the ImageNet weights that
``use_pretrained_model=1`` starts from on this computer.

Only formatting lives here; :mod:`sagewiz.core.model.pretrained` keeps the store.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrained", help="pretrained networks on this computer, for use_pretrained_model=1 (list, add, download, remove)",
        description="Keep ImageNet weights for the algorithm's network (pre-activation ResNet v2) on this computer, "
        "one per depth, so that training here with use_pretrained_model=1 starts from them, as SageMaker does.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="what is installed, where each came from, and its SHA-256")
    listing.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    add = actions.add_parser("add", help="install weights from a file: an ONNX model zoo ResNet v2 "
                             "(resnet18-v2-7.onnx …), an MXNet checkpoint (resnet-18-symbol.json + "
                             "resnet-18-0000.params) or a model.tar.gz")
    add.add_argument("path", metavar="PATH", help="the file (or the checkpoint's folder)")
    download = actions.add_parser("download", help="fetch the ONNX model zoo's ResNet v2 of that depth and install it")
    download.add_argument("depth", metavar="DEPTH", type=int, help="18, 34, 50, 101 or 152")
    remove = actions.add_parser("remove", help="delete the installed weights of that depth")
    remove.add_argument("depth", metavar="DEPTH", type=int, help="the depth to remove")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from sagewiz.core.model import pretrained as store
    from sagewiz.tui.console import err_console

    if args.action == "list":
        networks = store.installed()
        if getattr(args, "json", False):
            print(json.dumps([store.entry_details(n) for n in networks], indent=2))
        else:
            _print_list(networks, store.pretrained_folder())
        return 0
    if args.action == "remove":
        gone = store.remove_pretrained(args.depth)
        err_console.print(f"Removed the pretrained ResNet-{gone.num_layers} ({escape(gone.source)}).")
        return 0
    before = {n.num_layers: n for n in store.installed()}
    if args.action == "add":
        with err_console.status("Reading the weights…"):
            network = store.add_pretrained(Path(args.path))
    else:
        from sagewiz.tui.console import transfer_bar

        with transfer_bar(f"Downloading ResNet-{args.depth}") as progress:
            network = store.download_pretrained(args.depth, progress=progress)
    replaced = before.get(network.num_layers)
    err_console.print(f"[green]✓[/] Installed ResNet-{network.num_layers}, from {escape(network.source)}, "
                      f"trained at {'×'.join(map(str, network.image_shape[1:]))} pixels on {network.classes:,} classes"
                      + (f"; it replaces {escape(replaced.source)}." if replaced else "."))
    err_console.print("    SHA-256 of the file it came from:")
    err_console.print(f"    {network.sha256}")
    err_console.print("Training on this computer with use_pretrained_model=1 now starts from these weights.")
    return 0


def _print_list(networks, folder) -> None:
    from rich.markup import escape

    from sagewiz.tui.console import err_console, fitted_table

    if not networks:
        err_console.print("No pretrained networks are installed. `sagewiz pretrained download 18` fetches ImageNet "
                          "weights for ResNet-18; `sagewiz pretrained add FILE` installs a file you have.")
        return
    rows = [(f"ResNet-{n.num_layers}", "×".join(map(str, n.image_shape[1:])), f"{n.classes:,}", escape(n.source),
             n.added_at[:10], n.sha256) for n in networks]
    err_console.print(fitted_table(("Network", "Pixels", "Classes", "From", "Added", "SHA-256"), rows,
                                   give_way=[(3, 16)], beneath={5: 3}, title=f"Pretrained networks in {escape(str(folder))}"))
