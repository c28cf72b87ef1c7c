"""``sagewiz predict``'s work, without any UI: the pictures a user named, each one's answer from a
model archive (in batches, in this process) or an endpoint (a request a picture), and what is done
with the answers: a CSV file, or copies sorted into a folder per class.

The user's pictures are only ever read: sorting copies them, never moves or changes one, and a
copy never replaces a file that is already there.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from sagewiz.core.errors import InputError, WizardError
from sagewiz.core.evaluate import UnreadableImage

if TYPE_CHECKING:
    from sagewiz.core.model.find import FoundModel

ENDPOINT_WORKERS = 8  # requests in flight to an endpoint, as evaluation sends them: it batches them
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Pictures:
    """What the user named, as picture files: ``paths`` to predict (in the order named, a folder's
    sorted), ``unreadable`` folders that couldn't be opened, and the ``folders`` named (absolute)."""

    paths: tuple[str, ...]
    unreadable: tuple[UnreadableImage, ...] = ()
    folders: tuple[str, ...] = ()


def find_pictures(inputs: Sequence[str | os.PathLike]) -> Pictures:
    """Every picture in ``inputs``: a file is taken as named (whatever its extension: the model
    says whether it is a picture); a folder is walked for .jpg, .jpeg and .png files as a dataset's
    class folders are. Raises InputError when nothing is named, a path doesn't exist, or the
    folders hold no picture at all."""
    from sagewiz.core.dataset.walk import absolute_path, pictures_under

    if not inputs:
        raise InputError("No pictures were named.", hint="Name picture files or folders of pictures after the model.")
    paths, unreadable, folders = [], [], []
    for given in inputs:
        path = absolute_path(given)
        if os.path.isdir(path):
            found, problems = pictures_under(path)
            paths += found
            folders.append(path)
            unreadable += [UnreadableImage(os.path.join(path, p.path), p.reason) for p in problems]
        elif os.path.lexists(path):
            paths.append(path)
        else:
            raise InputError(f"There is no picture or folder at {given}.", title="Picture not found",
                             hint="Check the path; name picture files (JPEG, PNG) or folders that hold them.")
    if not paths and not unreadable:
        raise InputError(f"There are no pictures (.jpg, .jpeg, .png) in {', '.join(map(str, inputs))}.",
                         title="No pictures", hint="Name a folder that holds JPEG or PNG files, or the files themselves.")
    return Pictures(tuple(dict.fromkeys(paths)), tuple(unreadable), tuple(folders))


@dataclass(frozen=True)
class Predicted:
    """One picture's answer: probabilities in label order, as the endpoint answers them."""

    path: str
    probabilities: tuple[float, ...]

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` most likely labels with their probabilities, most likely first."""
        return sorted(enumerate(self.probabilities), key=lambda pair: (-pair[1], pair[0]))[:k]


@dataclass
class PredictionResult:
    """Every picture's answer from one model. ``class_names_known`` is False when the model's
    classes were never named (a SageMaker archive with no run behind it): they are ``class 0``…;
    ``top_k`` is how many classes to show a picture with by default (the model's top_k, or 1);
    ``runs_as`` how the network ran in this process ("" when an endpoint answered)."""

    model: str
    class_names: tuple[str, ...]
    class_names_known: bool
    top_k: int
    predictions: list[Predicted] = field(default_factory=list)
    unreadable: list[UnreadableImage] = field(default_factory=list)
    runs_as: str = ""

    def predicted_class(self, answer: Predicted) -> tuple[str, float]:
        label, probability = answer.top(1)[0]
        return self.class_names[label], probability

    def to_dict(self, top_k: int | None = None) -> dict:
        """Plain JSON-ready data: per picture its ``path``, ``prediction`` (as the endpoint
        answers) and ``top`` (label, class, probability, most likely first); ``runs_as``."""
        k = min(top_k or self.top_k, len(self.class_names))
        return {
            "model": self.model, "class_names": list(self.class_names), "class_names_known": self.class_names_known,
            "pictures": [{"path": a.path, "prediction": list(a.probabilities),
                          "top": [{"label": label, "class": self.class_names[label], "probability": p} for label, p in a.top(k)]}
                         for a in self.predictions],
            "unreadable": [{"path": u.path, "reason": u.reason} for u in self.unreadable],
            "runs_as": self.runs_as,
        }


def predict_pictures(found: "FoundModel", pictures: Pictures, *, progress: Progress | None = None,
                     batch_size: int | None = None, device: str = "auto") -> PredictionResult:
    """Predict every picture with the model ``found`` names: an archive in batches in this process
    (torch), an endpoint with a request a picture. ``progress(n)`` as pictures finish. Raises
    ArtifactError/ModelFileError for an archive that can't be used, and WizardError when the
    endpoint fails beyond one picture or answers for another number of classes."""
    if found.endpoint is not None:
        return _predict_with_endpoint(found, pictures, progress)
    from sagewiz.core.local.predictor import DEFAULT_BATCH, ArchivePredictor

    predictor = ArchivePredictor(found.path, class_names=found.class_names, device=device, batch_size=batch_size or DEFAULT_BATCH)
    info = predictor.info
    result = PredictionResult(found.described, tuple(info.class_names), info.class_names_known, _model_top_k(info.hyperparameters),
                              unreadable=list(pictures.unreadable), runs_as=f"ResNet-{info.num_layers} {predictor.form.said}")
    for answer in predictor.predict(pictures.paths, progress):
        if isinstance(answer, UnreadableImage):
            result.unreadable.append(answer)
        else:
            result.predictions.append(Predicted(answer.path, answer.probabilities))
    return result


def _model_top_k(hyperparameters) -> int:
    try:
        return max(1, int(str(hyperparameters.get("top_k", "1")).strip() or 1))
    except ValueError:
        return 1


def _predict_with_endpoint(found: "FoundModel", pictures: Pictures, progress: Progress | None) -> PredictionResult:
    from sagewiz.core.ordered import ordered_map
    from sagewiz.core.evaluate import ImageRejectedError, content_type_of
    from sagewiz.core.model.archive import unknown_class_names

    def ask(path: str) -> Predicted | UnreadableImage:
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as error:
            return UnreadableImage(path, f"can't read the file: {error.strerror or error}")
        try:
            return Predicted(path, found.backend.predict(found.endpoint, data, content_type_of(data)).probabilities)
        except ImageRejectedError as error:
            return UnreadableImage(path, f"the endpoint refused it: {error.message}")

    names = tuple(found.class_names) if found.class_names else None
    result = PredictionResult(found.described, names or (), names is not None, 1, unreadable=list(pictures.unreadable))
    for answer in ordered_map(ask, pictures.paths, ENDPOINT_WORKERS, window=4):
        if isinstance(answer, UnreadableImage):
            result.unreadable.append(answer)
        else:
            if not result.class_names:  # nobody named them: as many "class N" as the endpoint answers
                result.class_names = unknown_class_names(len(answer.probabilities))
            if len(answer.probabilities) != len(result.class_names):
                raise WizardError(f"{found.described} answered {len(answer.probabilities)} probabilities for {answer.path}, "
                                  f"but its model has {len(result.class_names)} classes.", title="Unexpected answer",
                                  hint="The endpoint may serve another model now: `sagewiz resources` lists the endpoints.")
            result.predictions.append(answer)
        if progress:
            progress(1)
    return result


# ---- what is done with the answers --------------------------------------------------------------

def check_sort_target(target: str | os.PathLike, pictures: Pictures) -> Path:
    """The folder to sort copies into, refused (InputError) when it lies inside a folder being
    predicted: the copies would be mixed into the user's own pictures (and found by the next run)."""
    folder = Path(os.path.abspath(os.path.expanduser(os.fspath(target))))
    for named in pictures.folders:
        if folder == Path(named) or Path(named) in folder.parents:
            raise InputError(f"--sort-into {target} is inside {named}, one of the folders being predicted.",
                             title="Sorting into the pictures' own folder",
                             hint="Choose a folder outside the pictures' folder, e.g. next to it: its copies would otherwise mix with your pictures.")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--sort-into {target} is a file, not a folder.", hint="Name a new or existing folder.")
    return folder


def class_folder_name(name: str) -> str:
    """A class name as a folder name: path separators and NUL replaced, never '.' or '..'."""
    cleaned = "".join("_" if c in "/\\\0" else c for c in name).strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"


def sort_into(result: PredictionResult, target: str | os.PathLike, pictures: Pictures,
              progress: Progress | None = None) -> list[tuple[str, str]]:
    """Copy each predicted picture into ``target/<predicted class>/`` (its bytes and times; the
    original is only read). A name already taken there gets ``-2``, ``-3``… before its extension,
    so nothing is replaced. Returns (picture, copy) pairs. Raises InputError (see
    :func:`check_sort_target`) and WizardError when a copy can't be written."""
    folder = check_sort_target(target, pictures)
    copies = []
    for answer in result.predictions:
        name, _ = result.predicted_class(answer)
        into = folder / class_folder_name(name)
        try:
            into.mkdir(parents=True, exist_ok=True)
            copies.append((answer.path, str(_copy_without_replacing(Path(answer.path), into))))
        except OSError as error:
            raise WizardError(f"Can't copy {answer.path} into {into}: {error.strerror or error}.",
                              title="Sorting stopped", hint=f"Check that {folder} is writable and has room.") from None
        if progress:
            progress(1)
    return copies


def _copy_without_replacing(source: Path, into: Path) -> Path:
    """Copy ``source`` into ``into`` under its own name, or ``name-2.ext``… when that is taken.
    The bytes go to a hidden partial file first and are linked in whole under the free name (a
    link never replaces a file), so an interrupted sort leaves no half picture behind."""
    stem, suffix = os.path.splitext(source.name)
    partial = into / f".{source.name}.{os.getpid()}.partial"
    try:
        shutil.copyfile(source, partial)
        shutil.copystat(source, partial)
        for n in range(1, 100_000):
            target = into / (source.name if n == 1 else f"{stem}-{n}{suffix}")
            try:
                os.link(partial, target)
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links (FAT, some shares): rename, after a look
                if target.exists():
                    continue
                os.replace(partial, target)
            return target
        raise FileExistsError(f"too many pictures called {source.name}")
    finally:
        partial.unlink(missing_ok=True)


def write_csv(result: PredictionResult, path: str | os.PathLike) -> Path:
    """The answers as CSV at ``path`` (written whole, then moved into place): path, predicted
    class, its probability, then one column per class with its probability."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "predicted class", "probability", *result.class_names])
    for answer in result.predictions:
        name, probability = result.predicted_class(answer)
        writer.writerow([answer.path, name, f"{probability:.6f}", *(f"{p:.6f}" for p in answer.probabilities)])
    target = Path(os.path.expanduser(os.fspath(path)))
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InputError(f"Can't write {path}: {error.strerror or error}.", hint="Name a file in a folder you can write to.") from None
    return target
