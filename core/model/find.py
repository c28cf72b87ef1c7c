"""What the user calls a model, found: a ``model.tar.gz`` on this computer or in S3, a training
job's name (trained here or on SageMaker), or an endpoint's name.

``sagewiz predict``, ``sagewiz serve``, ``sagewiz deploy`` and ``--continue-from`` all take such a
name. A job's model is brought onto this computer once (a SageMaker archive is downloaded into the
sagewiz home and reused, :meth:`Backend.model_file`), with the class names of the run that trained
it from the ledger; an archive named by its path answers with the class names it holds, or
``class 0``, ``class 1``… when SageMaker wrote it (never guessed).

Only the Backend contract is used: the backend that knows the job is asked, local first (it needs
nothing), then AWS (when the ledger or the name says so, or nothing here knows the name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sagewiz.core.errors import InputError, NotFoundError, WizardError

if TYPE_CHECKING:
    from sagewiz.core.backend import Backend
    from sagewiz.core.ledger import Ledger

Progress = Callable[[int, int], None]
_HINT = ("Name a model.tar.gz, a training job that completed or an endpoint: `sagewiz resources` lists the jobs and "
         "endpoints sagewiz made.")


@dataclass(frozen=True)
class FoundModel:
    """A model the user named. ``path`` is its archive on this computer (None for an endpoint);
    ``endpoint`` the endpoint's name on ``backend`` when the user named one; ``class_names`` the
    run's when it is known (None: the archive's own, or ``class 0``…); ``model_uri`` where the
    archive is kept (``file://`` or ``s3://``); ``job_name`` the job that trained it, when known;
    ``described`` how to name it in a sentence."""

    described: str
    path: Path | None = None
    class_names: tuple[str, ...] | None = None
    backend: "Backend | None" = None
    endpoint: str | None = None
    model_uri: str = ""
    job_name: str = ""
    hyperparameters: dict | None = None


def find_model(name: str, *, ledger: "Ledger", region: str | None = None, profile: str | None = None,
               endpoints: bool = True, progress: Progress | None = None, backend: str | None = None,
               open_backend: Callable[..., "Backend"] | None = None) -> FoundModel:
    """The model called ``name``: a path to an archive (or to a folder holding ``model.tar.gz``),
    an ``s3://`` URI, a training job's name or (with ``endpoints``) an endpoint's name; a job or
    endpoint only on ``backend`` when it is given ("local" or "aws"). A job's archive is made a
    file here (downloaded with ``progress`` when it is in S3). Raises NotFoundError when nothing
    is called that, InputError when it is only on the other backend (said before downloading
    anything), and WizardError when the backend that has it can't be asked (no AWS credentials…)."""
    from sagewiz.core import backends

    opener = open_backend or backends.open_backend
    text = str(name).strip()
    if not text:
        raise InputError("No model was named.", hint=_HINT)
    if text.startswith("s3://"):
        aws = opener("aws", ledger=ledger, region=region, profile=profile)
        return FoundModel(text, aws.model_file(text, progress), backend=aws, model_uri=text)
    path = Path(text).expanduser()
    if path.exists() or _looks_like_path(text):
        return FoundModel(str(path), _archive_at(path), model_uri=path.resolve().as_uri() if path.exists() else "")
    recorded = _recorded(ledger, text, endpoints)
    if backend:
        elsewhere = [record for record in recorded if record[0] != backend]
        recorded = [record for record in recorded if record[0] == backend]
        if elsewhere and not recorded:
            other, kind, _ = elsewhere[0]
            raise InputError(f"The {kind.replace('-', ' ')} {text} is on the {other} backend, not {backend}.",
                             hint="Leave out --backend, or name the model's archive (model.tar.gz) instead.")
    for backend_name, kind, record_region in recorded:
        found_on = opener(backend_name, ledger=ledger, region=record_region or region, profile=profile)
        if kind == "training-job":
            return _job_model(found_on, text, progress)
        return FoundModel(f"the endpoint {text}", backend=found_on, endpoint=text,
                          class_names=_endpoint_class_names(ledger, backend_name, text, record_region))
    unasked = ""
    for backend_name in (backend,) if backend else backends.NAMES:  # not in the ledger: a job the local disk has, or one started elsewhere
        try:
            found_on = opener(backend_name, ledger=ledger, region=region, profile=profile)
            return _job_model(found_on, text, progress)
        except NotFoundError:
            continue
        except WizardError as error:
            if backend_name == "local" or backend:  # asked for by name: why it couldn't be asked is the answer
                raise
            unasked = f" SageMaker could not be asked ({error.message.rstrip('.')})."  # no credentials, no network…
    kinds = "model file, training job or endpoint" if endpoints else "model file or training job"
    where = f" on the {backend} backend" if backend else ""
    raise NotFoundError(f"There is no {kinds} called {text}{where}.{unasked}", title="Model not found", hint=_HINT)


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.endswith((".tar.gz", ".tgz", ".tar"))


def _archive_at(path: Path) -> Path:
    if path.is_dir():
        inside = path / "model.tar.gz"
        if inside.is_file():
            return inside
        raise InputError(f"{path} is a folder, not a model.", hint="Name its model.tar.gz (a training job's output), or a training job.")
    if not path.is_file():
        raise NotFoundError(f"There is no model file at {path}.", title="Model not found", hint=_HINT)
    return path


def _recorded(ledger: "Ledger", name: str, endpoints: bool) -> list[tuple[str, str, str]]:
    """(backend, kind, region) of every resource called ``name`` that the ledger knows, jobs before
    endpoints and this computer's before AWS's, newest first within each."""
    kinds = ("training-job", "endpoint") if endpoints else ("training-job",)
    found = [r for r in ledger.resources(include_deleted=True) if r.name == name and r.kind in kinds]
    found.sort(key=lambda r: (kinds.index(r.kind), r.backend != "local", -r.id))
    return [(r.backend, r.kind, r.region) for r in found]


def _job_model(backend: "Backend", job_name: str, progress: Progress | None) -> FoundModel:
    job = backend.describe_training(job_name)
    if not job.model_uri:
        raise InputError(f"The training job {job_name} has no model ({job.status.value}).", title="No model yet",
                         hint="Choose a job that completed: `sagewiz resources` lists them.")
    where = "on this computer" if backend.name == "local" else "on SageMaker"
    return FoundModel(f"the model of {job_name} (trained {where})", backend.model_file(job.model_uri, progress),
                      class_names=tuple(job.class_names) or None, backend=backend, model_uri=job.model_uri,
                      job_name=job_name, hyperparameters=dict(job.hyperparameters))


def _endpoint_class_names(ledger: "Ledger", backend: str, name: str, region: str) -> tuple[str, ...] | None:
    """The class names of the model behind the endpoint: those recorded when it was served, else
    those its archive holds (on this computer), else those of the training job whose model it
    serves, from the job's record."""
    record = ledger.find(backend, "endpoint", name, region)
    if record and record.details.get("class_names"):  # recorded when it was served (`sagewiz serve` of a SageMaker job)
        return tuple(str(n) for n in record.details["class_names"])
    model = str(record.details.get("model", "")) if record else ""
    if model.startswith("file:"):
        from urllib.parse import unquote, urlsplit

        from sagewiz.core.model.archive import read_info

        try:
            info = read_info(Path(unquote(urlsplit(model).path)))
            return info.class_names if info.class_names_known else None
        except WizardError:
            return None
    segments = model.split("/")  # SageMaker keeps a job's model under .../<job name>/output/model.tar.gz
    for job in reversed(ledger.resources(backend=backend, include_deleted=True)):
        names = job.details.get("class_names") if job.kind == "training-job" and job.name in segments else None
        if names:
            return tuple(str(n) for n in names)
    return None
