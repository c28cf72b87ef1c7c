"""Where an endpoint can run, as both wizards offer it: the types the account may use, the
recommended one first, each with its price; on AWS also this computer, free, last (the model
SageMaker trained is downloaded and tested here: core.journey.test_here). No UI library here:
the plain mode uses it too."""

from __future__ import annotations

from sagewiz.core.journey import HERE

HERE_LABEL = "this computer (free)"


def hosting_label(option, backend: str) -> str:
    """One endpoint choice as the list shows it: the type, what it costs, what the account may run."""
    if backend != "aws":
        return f"{option.instance_type} — this computer, free"
    if option.instance_type == HERE:
        return HERE_LABEL
    price = "price unknown" if option.price_per_hour is None else f"${option.price_per_hour:.3f}/hour"
    quota = "" if option.quota is None else f", quota {option.quota}"
    return f"{option.instance_type} — {price}{quota}"


def usable_hosting(trained) -> list:
    """The endpoint types worth offering: those the account may run (quota unknown counts), the
    recommended one first."""
    usable = [o for o in trained.hosting if o.quota != 0] or [o for o in trained.hosting if o.instance_type == trained.recommended_hosting]
    return sorted(usable, key=lambda o: (o.instance_type != trained.recommended_hosting, o.price_per_hour is None, o.price_per_hour or 0))


def endpoint_choices(trained, backend: str) -> list:
    """What the endpoint step offers: :func:`usable_hosting`, and on AWS this computer after the
    SageMaker types (the recommended type stays the first choice, the free one is in the list,
    and the cost line under a SageMaker type points to it)."""
    from sagewiz.core.backend import InstanceOption

    options = usable_hosting(trained)
    if backend == "aws":
        options.append(InstanceOption(HERE, 0, None, None, 0.0, "free"))
    return options


def tested_here(instance_type: str, backend: str) -> bool:
    """Whether this choice tests a SageMaker-trained model on this computer instead of on SageMaker."""
    return backend == "aws" and instance_type == HERE


def megabytes(size: int) -> str:
    """A download's size as people read it: 45 MB, 0.3 MB."""
    return f"{size / 1e6:.0f} MB" if size >= 10e6 else f"{size / 1e6:.1f} MB"


def here_cost(trained, size: int | None) -> str:
    """What testing here costs, beside what the recommended SageMaker endpoint would: the
    difference said in a sentence. ``size``: the model's download in bytes (None: not known yet)."""
    downloaded = f"downloaded ({megabytes(size)}, once)" if size else "downloaded once"
    text = f"Free: the model is {downloaded} and answers on 127.0.0.1"
    sagemaker = next((o for o in trained.hosting if o.instance_type == trained.recommended_hosting), None)
    if sagemaker is not None and sagemaker.price_per_hour is not None:
        text += f"; a SageMaker endpoint on {sagemaker.instance_type} would cost ${sagemaker.price_per_hour:.3f}/hour"
    return text + "."
