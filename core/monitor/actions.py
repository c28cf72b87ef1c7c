"""What the monitor can do about a thing that bills: stop a training or tuning job, delete an
endpoint (with its configuration and model when nothing else uses them), stop a notebook
instance; on the local backend, stop its jobs and delete its endpoints.

Two steps, as everywhere in sagewiz: :func:`plan` reads (it may Describe, never changes
anything) and returns an :class:`Action` whose ``question`` names what it will stop billing, for a
confirmation; :func:`carry_out` then acts. Each asks AWS only for the right it needs, when used;
errors arrive as WizardError subclasses (``translated`` at the boundary, as in core/aws).
"""

from __future__ import annotations

from dataclasses import dataclass

from sagewiz.core.aws.errors import error_code, translated
from sagewiz.core.errors import InputError, NotFoundError, WizardError
from sagewiz.core.monitor.calls import SectionFailed, version_of
from sagewiz.core.monitor.model import ENDPOINT, NOTEBOOK, TRAINING, TUNING, Item

STOPPABLE_JOBS = ("InProgress",)
STOPPABLE_NOTEBOOKS = ("InService", "Pending")
_SAID = {TRAINING: "training job", TUNING: "tuning job", ENDPOINT: "endpoint", NOTEBOOK: "notebook instance"}


@dataclass(frozen=True)
class Action:
    """``verb`` ("stop" or "delete") ``item``; ``saves_per_hour`` is what stops billing (None:
    price unknown); ``also_deleted`` the endpoint configuration and models that go with an
    endpoint, ``kept`` those that stay because something else uses them."""

    verb: str
    item: Item
    saves_per_hour: float | None
    question: str
    also_deleted: tuple[tuple[str, str], ...] = ()  # (kind, name): ("endpoint-config", "c1"), ("model", "m1")
    kept: tuple[str, ...] = ()


def plan(item: Item, monitor) -> Action:
    """The action that stops ``item`` billing, with its question. Raises InputError when nothing
    is to be done (a finished job, a stopped notebook…), WizardError when AWS can't be read."""
    verb = "delete" if item.kind == ENDPOINT else "stop"
    what = f"the {_SAID.get(item.kind, item.kind)} {item.name}"
    if item.kind in (TRAINING, TUNING) and item.status not in STOPPABLE_JOBS:
        raise InputError(f"{what[0].upper()}{what[1:]} is {item.status}: there is nothing to stop.",
                         title="Nothing to stop", hint="Only a job in progress can be stopped.")
    if item.kind == NOTEBOOK and item.status not in STOPPABLE_NOTEBOOKS:
        raise InputError(f"{what[0].upper()}{what[1:]} is {item.status}: there is nothing to stop.",
                         title="Nothing to stop", hint="Only a running notebook instance can be stopped.")
    if item.kind not in _SAID or item.kind == ENDPOINT and item.status == "Deleting":
        raise InputError(f"sagewiz can't {verb} {what}.", title="No action for this",
                         hint="Stop jobs, delete endpoints and stop notebook instances.")
    also, kept = ((), ()) if item.kind != ENDPOINT or item.backend == "local" else _endpoint_parts(item, monitor)
    saves = item.cost_per_hour
    cost = "it is free (this computer)" if item.backend == "local" else \
        "its price is unknown" if saves is None else f"it bills ${saves:.3f}/hour now"
    machines = f" ({item.instance_type} × {item.instance_count})" if item.instance_type and item.instance_count else ""
    question = f"{verb.capitalize()} {what}{machines}? {cost[0].upper()}{cost[1:]}"
    question += "; that stops." if saves else "."
    if also:
        question += " Also deletes " + " and ".join(f"its {kind.replace('-', ' ')} {name}" for kind, name in also) + "."
    if kept:
        question += " Keeps " + "; ".join(kept) + "."
    if item.kind == TRAINING:
        question += " The model is lost unless the job saved checkpoints."
    if item.kind == NOTEBOOK:
        question += " Its storage volume stays (and bills per GB-month) until the instance is deleted."
    return Action(verb, item, saves, question, also, kept)


def _endpoint_parts(item: Item, monitor) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The endpoint's configuration and models, split into what nothing else uses (deleted with
    it) and what another endpoint or configuration uses (kept, with the reason)."""
    reader = monitor.reader(item.region)
    try:
        mine = reader.call("describe_endpoint", EndpointName=item.name)
        config = mine.get("EndpointConfigName", "")
        configs_in_use = {}
        for summary in reader.pages("list_endpoints", "Endpoints"):
            if summary["EndpointName"] != item.name:
                other = reader.describe(ENDPOINT, summary["EndpointName"], version_of(summary), "describe_endpoint",
                                        EndpointName=summary["EndpointName"])
                configs_in_use[other.get("EndpointConfigName")] = summary["EndpointName"]
        models_of = {}
        for summary in reader.pages("list_endpoint_configs", "EndpointConfigs"):
            name = summary["EndpointConfigName"]
            described = reader.describe("endpoint-config", name, "final", "describe_endpoint_config", EndpointConfigName=name)
            models_of[name] = [v.get("ModelName") for v in described.get("ProductionVariants", [])]
    except SectionFailed as failure:
        raise failure.error from failure
    if config in configs_in_use:
        return (), (f"its endpoint configuration {config}: the endpoint {configs_in_use[config]} uses it",)
    also, kept = [("endpoint-config", config)] if config else [], []
    for model in dict.fromkeys(models_of.get(config, [])):
        users = [name for name, models in models_of.items() if name != config and model in models]
        if users:
            kept.append(f"its model {model}: the endpoint configuration {users[0]} uses it")
        else:
            also.append(("model", model))
    return tuple(also), tuple(kept)


def carry_out(action: Action, monitor) -> str:
    """Do what ``action`` says; returns what was done, in a sentence. Raises WizardError."""
    item = action.item
    if item.backend == "local":
        return _carry_out_locally(action, monitor)
    # SageMaker is asked directly, not through AwsBackend.stop_training, which waits for the job to
    # have stopped (minutes): the monitor's next refreshes show it stopping
    client = monitor.session.client("sagemaker", item.region)
    what = f"the {_SAID[item.kind]} {item.name}"
    with translated(f"{action.verb} {what}", profile=getattr(monitor.session, "profile", None)):
        if item.kind == TRAINING:
            client.stop_training_job(TrainingJobName=item.name)
        elif item.kind == TUNING:
            client.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=item.name)
        elif item.kind == NOTEBOOK:
            client.stop_notebook_instance(NotebookInstanceName=item.name)
        elif item.kind == ENDPOINT:
            client.delete_endpoint(EndpointName=item.name)
    if item.kind == ENDPOINT:
        for kind, name in action.also_deleted:
            _delete_part(client, kind, name)
        _forget(monitor, item)
        return f"Deleted {what}" + "".join(f", its {k.replace('-', ' ')} {n}" for k, n in action.also_deleted) + "."
    return f"Asked SageMaker to stop {what}; it bills until it has stopped (usually a minute or two)."


def _delete_part(client, kind: str, name: str) -> None:
    """Delete an endpoint configuration or model; one already gone is what was wanted. (Not
    ``hosting.delete``: that deletes the configuration and model named like the endpoint, as
    sagewiz names them, whoever else uses them.)"""
    try:
        with translated(f"delete the {kind.replace('-', ' ')} {name}"):
            if kind == "endpoint-config":
                client.delete_endpoint_config(EndpointConfigName=name)
            else:
                client.delete_model(ModelName=name)
    except WizardError as error:
        # SageMaker says "no such configuration/model" with a ValidationException, as hosting.py knows
        if not (isinstance(error, NotFoundError) or error_code(error) in ("ValidationException", "ResourceNotFound")):
            raise


def _forget(monitor, item: Item) -> None:
    """A deleted endpoint sagewiz recorded is marked deleted in the ledger, so clean-up doesn't
    offer it again."""
    if monitor.ledger is None:
        return
    record = monitor.ledger.find("aws", ENDPOINT, item.name, item.region)
    if record is not None and record.state != "deleted":
        monitor.ledger.update(record.id, state="deleted")


def _carry_out_locally(action: Action, monitor) -> str:
    from sagewiz.core.ledger import Ledger
    from sagewiz.core.local.backend import LocalBackend

    backend = LocalBackend(ledger=monitor.ledger or Ledger())
    item, what = action.item, f"the local {_SAID[action.item.kind]} {action.item.name}"
    if item.kind == TRAINING:
        job = backend.stop_training(item.name)
        return f"Stopped {what}: {job.status.value}."
    if item.kind == TUNING:
        tuning = backend.stop_tuning(item.name)
        return f"Stopped {what}: {tuning.status.value}."
    record = backend.ledger.find("local", item.kind, item.name)
    if record is None:
        raise NotFoundError(f"There is no {what}.", hint="`sagewiz resources` lists what sagewiz made.")
    backend.delete(record)
    return f"Deleted {what}."
