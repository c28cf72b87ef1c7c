"""Pretrained networks on this computer: ImageNet (or other) weights for the algorithm's own network,
for ``use_pretrained_model=1`` on the local backend.

Kept in the sagewiz home, ``pretrained/``, one entry per depth: ``resnet-18.params`` (the weights, as
``.params`` with ``arg:``/``aux:`` names and without fc1 — the last layer is always new) and
``resnet-18.json`` (where they came from, the SHA-256 of that file, when they were added). Three
sources are read (:func:`add_pretrained`): an MXNet checkpoint (the MXNet model zoo's
``resnet-18-symbol.json`` + ``resnet-18-0000.params``: the algorithm's very symbol), an ONNX model zoo
ResNet v2 file (:mod:`sagewiz.core.model.onnx_import`), and a ``model.tar.gz`` of a training job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from sagewiz.core.errors import ModelFileError, NotFoundError
from sagewiz.core.model.architecture import SMALL_IMAGE_MAX_HEIGHT, SMALL_STEM_MAX_HEIGHT
from sagewiz.core.model.download import ZooFile, fetch_zoo_file, sha256_of, zoo_file
from sagewiz.core.model.params import load_params, read_params, save_params

FOLDER = "pretrained"
_ENTRY = re.compile(r"resnet-(\d+)\.json\Z")
_HINT = ("Add an ONNX model zoo ResNet v2 file (resnet18-v2-7.onnx …), an MXNet checkpoint "
         "(resnet-18-symbol.json + resnet-18-0000.params) or a model.tar.gz; "
         "`sagewiz pretrained download 18` fetches one.")


@dataclass(frozen=True)
class PretrainedNetwork:
    """Weights for the algorithm's network of ``num_layers`` layers, installed on this computer."""

    num_layers: int
    image_shape: tuple[int, int, int]   # the picture size it was trained at
    source: str        # in words: "ONNX model zoo resnet18-v2-7.onnx", "MXNet checkpoint resnet-18", …
    sha256: str        # of the file it was made from
    path: Path         # the stored .params
    added_at: str      # ISO time
    classes: int       # how many classes its last layer had (1000 for ImageNet)


def pretrained_folder(home: Path | None = None) -> Path:
    """``pretrained/`` in the sagewiz home (``$SAGEWIZ_HOME`` or the user data folder)."""
    if home is None:
        from sagewiz.core.ledger import default_ledger_path

        home = default_ledger_path().parent
    return Path(home) / FOLDER


def family(height: int) -> str:
    """Which weights fit a network for pictures this tall: the 3-stage nets (≤ 28 px), the 4-stage ones
    with the small 3×3 stem (29–32 px), or the ImageNet layout (7×7 stem); none shares weights."""
    if height <= SMALL_IMAGE_MAX_HEIGHT:
        return "small images"
    return "small stem" if height <= SMALL_STEM_MAX_HEIGHT else "ImageNet layout"


# ---- the store ------------------------------------------------------------------------------

def _entry(meta_path: Path) -> PretrainedNetwork | None:
    try:
        meta = json.loads(meta_path.read_text())
        network = PretrainedNetwork(int(meta["num_layers"]), tuple(int(d) for d in meta["image_shape"]),  # type: ignore[arg-type]
                                    str(meta["source"]), str(meta["sha256"]), meta_path.with_suffix(".params"),
                                    str(meta["added_at"]), int(meta["classes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # half-written or edited by hand: not an entry sagewiz can vouch for
    return network if network.path.is_file() else None


def installed(home: Path | None = None) -> list[PretrainedNetwork]:
    """Every pretrained network on this computer, shallowest first."""
    folder = pretrained_folder(home)
    found = [_entry(path) for path in folder.glob("resnet-*.json") if _ENTRY.match(path.name)] if folder.is_dir() else []
    return sorted((n for n in found if n is not None), key=lambda n: n.num_layers)


def find_pretrained(num_layers: int, image_shape: tuple[int, int, int], home: Path | None = None) -> PretrainedNetwork | None:
    """The installed network whose weights fit ``num_layers`` at ``image_shape``: the same depth, the
    same channels and the same layout family (:func:`family`); None when there is none."""
    for network in installed(home):
        if network.num_layers == num_layers and network.image_shape[0] == image_shape[0] \
                and family(network.image_shape[1]) == family(image_shape[1]):
            return network
    return None


def _meta(network: PretrainedNetwork, path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


def pretrained_params(network: PretrainedNetwork) -> dict[str, np.ndarray]:
    """The network's ``.params`` arrays (``arg:``/``aux:`` names, no fc1). ModelFileError when the
    stored file is gone or no longer the one that was added."""
    try:
        stored = _meta(network, network.path).get("params_sha256")
    except (OSError, ValueError):
        stored = None
    if not network.path.is_file() or (stored and sha256_of(network.path) != stored):
        raise ModelFileError(f"The pretrained ResNet-{network.num_layers} in {network.path.parent} is missing or "
                             "was changed since it was added.", title="Pretrained weights damaged",
                             hint=f"Remove it (`sagewiz pretrained remove {network.num_layers}`) and add it again.")
    return load_params(network.path)


def remove_pretrained(num_layers: int, home: Path | None = None) -> PretrainedNetwork:
    """Delete the installed network of ``num_layers`` layers; NotFoundError when there is none."""
    for network in installed(home):
        if network.num_layers == num_layers:
            network.path.with_suffix(".json").unlink()  # first: without it the entry is gone
            network.path.unlink(missing_ok=True)
            return network
    have = ", ".join(str(n.num_layers) for n in installed(home)) or "none"
    raise NotFoundError(f"No pretrained ResNet-{num_layers} is installed (installed: {have}).",
                        hint="`sagewiz pretrained list` shows what is installed.")


def _store(home: Path | None, num_layers: int, image_shape: tuple[int, int, int], classes: int,
           params: Mapping[str, np.ndarray], source: str, sha256: str, file_name: str, url: str | None) -> PretrainedNetwork:
    folder = pretrained_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"resnet-{num_layers}.params"
    partial = path.with_name(path.name + ".partial")
    save_params(partial, params)
    meta = {"num_layers": num_layers, "image_shape": list(image_shape), "classes": classes, "source": source,
            "sha256": sha256, "file_name": file_name, "url": url,
            "added_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "params_sha256": sha256_of(partial)}
    meta_path = path.with_suffix(".json")
    meta_path.unlink(missing_ok=True)  # the old entry ends before its weights are replaced
    os.replace(partial, path)
    meta_partial = meta_path.with_name(meta_path.name + ".partial")
    meta_partial.write_text(json.dumps(meta, indent=2))
    os.replace(meta_partial, meta_path)
    return PretrainedNetwork(num_layers, tuple(image_shape), source, sha256, path, meta["added_at"], classes)  # type: ignore[arg-type]


def entry_details(network: PretrainedNetwork) -> dict:
    """The entry as plain data (for ``--json``), with the original file name and URL."""
    data = {**asdict(network), "path": str(network.path), "image_shape": list(network.image_shape)}
    try:
        meta = _meta(network, network.path)
        data.update(file_name=meta.get("file_name"), url=meta.get("url"))
    except (OSError, ValueError):
        pass
    return data


# ---- reading the three kinds of file ------------------------------------------------------

def _fit(params: Mapping[str, np.ndarray], num_layers: int, image_shape: tuple[int, int, int],
         source: str) -> dict[str, np.ndarray]:
    """``params`` without fc1, checked name by name and shape by shape against the algorithm's
    network, as float32 in checkpoint order."""
    from sagewiz.core.local.resnet import build_resnet
    from sagewiz.core.model.weights import checkpoint_params

    wanted = {name: array.shape for name, array in
              checkpoint_params(build_resnet(num_layers, 2, image_shape, channels_last=False)).items()
              if not name.startswith("arg:fc1_")}
    given = {name: array for name, array in params.items() if not name.startswith("arg:fc1_")}
    missing = sorted(set(wanted) - set(given))
    extra = sorted(set(given) - set(wanted))
    shaped = sorted(f"{n} {given[n].shape} (ResNet-{num_layers} has {wanted[n]})"
                    for n in wanted if n in given and tuple(given[n].shape) != tuple(wanted[n]))
    not_float = sorted(n for n in given if not np.issubdtype(given[n].dtype, np.floating))
    problems = [f"{label}: {', '.join(names[:6])}{' …' if len(names) > 6 else ''}" for label, names in
                (("missing", missing), ("unexpected", extra), ("wrong shape", shaped), ("not weights", not_float)) if names]
    if problems:
        raise ModelFileError(f"{source} doesn't fit the algorithm's ResNet-{num_layers}: " + "; ".join(problems) + ".",
                             title="Not a network sagewiz can use", hint=_HINT)
    return {name: np.ascontiguousarray(given[name], dtype=np.float32) for name in wanted}


def _trained_shape(min_height: int) -> tuple[int, int, int]:
    # a checkpoint doesn't say the picture size it was trained at: its family's usual one
    return (3, 28, 28) if min_height <= SMALL_IMAGE_MAX_HEIGHT else \
        (3, 32, 32) if min_height <= SMALL_STEM_MAX_HEIGHT else (3, 224, 224)


def _checkpoint_files(path: Path) -> tuple[Path, Path, str]:
    """(symbol, params, prefix) of an MXNet checkpoint named by either file or its folder."""
    if path.is_dir():
        symbols = sorted(path.glob("*-symbol.json"))
        if len(symbols) != 1:
            raise ModelFileError(f"{path} holds {len(symbols)} MXNet checkpoints (*-symbol.json files), not one.",
                                 title="Which checkpoint?", hint="Name the -symbol.json or .params file itself.")
        path = symbols[0]
    if path.name.endswith("-symbol.json"):
        prefix = path.name[: -len("-symbol.json")]
    else:
        match = re.fullmatch(r"(.+)-(\d{4})\.params", path.name)
        if not match:
            raise ModelFileError(f"{path.name} is not named like an MXNet checkpoint (NAME-symbol.json, NAME-0000.params).",
                                 hint=_HINT)
        prefix = match[1]
    symbol = path.with_name(f"{prefix}-symbol.json")
    weights = sorted(path.parent.glob(f"{glob_escape(prefix)}-[0-9][0-9][0-9][0-9].params"))
    if not symbol.is_file():
        raise ModelFileError(f"The network file {symbol.name} is not beside {path.name}.", title="Half a checkpoint",
                             hint="An MXNet checkpoint is two files: put NAME-symbol.json beside NAME-0000.params.")
    if not weights:
        raise ModelFileError(f"There is no {prefix}-NNNN.params beside {symbol.name}.", title="Half a checkpoint",
                             hint="An MXNet checkpoint is two files: put NAME-0000.params beside NAME-symbol.json.")
    chosen = path if path.suffix == ".params" else weights[-1]  # the latest epoch, unless one was named
    return symbol, chosen, prefix


def glob_escape(text: str) -> str:
    return re.sub(r"([*?[])", r"[\1]", text)


def _read_checkpoint(path: Path):
    from sagewiz.core.model.onnx_import import depth_in_file_name
    from sagewiz.core.model.symbol import read_symbol

    symbol, weights, prefix = _checkpoint_files(path)
    info = read_symbol(symbol.read_bytes(), source=symbol.name)
    named = depth_in_file_name(prefix)
    if named is not None and named != info.num_layers:
        raise ModelFileError(f"{symbol.name} is named for ResNet-{named} but describes a ResNet-{info.num_layers}.",
                             title="Not a network sagewiz can use", hint=_HINT)
    shape = _trained_shape(info.min_height)
    data = weights.read_bytes()
    params = _fit(read_params(data, source=weights.name), info.num_layers, shape, weights.name)
    return info.num_layers, shape, info.num_classes, params, f"MXNet checkpoint {prefix}", data, weights.name


def _read_archive(path: Path):
    from sagewiz.core.model.archive import read_archive

    info, params = read_archive(path)
    source = f"model.tar.gz of {info.job_name}" if info.job_name else path.name
    fitted = _fit(params, info.num_layers, info.image_shape, path.name)
    return info.num_layers, info.image_shape, info.num_classes, fitted, source, path.read_bytes(), path.name


def _read_onnx(path: Path, source: str | None):
    from sagewiz.core.model.onnx_import import depth_in_file_name, read_onnx

    data = path.read_bytes()
    network = read_onnx(data, source=path.name, depth_in_name=depth_in_file_name(path.name))
    zoo = re.fullmatch(r"resnet\d+-v2-\d+\.onnx", path.name)
    words = source or (f"ONNX model zoo {path.name}" if zoo else f"ONNX file {path.name}")
    if network.approximate:
        words += f" ({network.approximate})"
    fitted = _fit(network.params, network.num_layers, network.image_shape, path.name)
    return network.num_layers, network.image_shape, network.classes, fitted, words, data, path.name


def add_pretrained(path: Path, home: Path | None = None, *, source: str | None = None,
                   url: str | None = None) -> PretrainedNetwork:
    """Install the weights in ``path`` — an MXNet checkpoint (either file, or its folder), an ONNX
    ResNet v2 file or a ``model.tar.gz`` — replacing an installed network of the same depth.
    Raises :class:`ModelFileError` naming what the file is when it is none of those."""
    path = Path(path).expanduser()
    if not path.exists():
        raise NotFoundError(f"There is no file or folder {path}.", hint=_HINT)
    name = path.name.lower()
    try:
        if path.is_dir() or name.endswith(("-symbol.json", ".params")):
            read = _read_checkpoint(path)
        elif name.endswith(".onnx"):
            read = _read_onnx(path, source)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            read = _read_archive(path)
        else:
            raise ModelFileError(f"{path.name} is none of the files sagewiz takes pretrained weights from.",
                                 title="Not a model file", hint=_HINT)
    except OSError as error:
        raise ModelFileError(f"Can't read {path}: {error.strerror or error}.", hint=_HINT) from None
    num_layers, shape, classes, params, words, data, file_name = read
    return _store(home, num_layers, shape, classes, params, words, hashlib.sha256(data).hexdigest(), file_name, url)


def download_pretrained(num_layers: int, home: Path | None = None, progress: Callable[[int, int], None] | None = None,
                        *, base_url: str | None = None) -> PretrainedNetwork:
    """Download the ONNX model zoo's ResNet v2 of ``num_layers`` layers (resuming an interrupted
    download, checking its size and SHA-256) and install it. Raises DownloadError (offline: where to
    get the file by hand), InputError for a depth the zoo doesn't have."""
    zoo: ZooFile = zoo_file(num_layers, base_url)
    folder = pretrained_folder(home) / "downloads"
    path, url = fetch_zoo_file(zoo, folder, progress)
    network = add_pretrained(path, home, source=f"ONNX model zoo {zoo.name}", url=url)
    path.unlink()  # converted: the .params holds all of it
    return network
