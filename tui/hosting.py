"""Where an endpoint can run, as both wizards offer it: the types the account may use, the
recommended one first, each with its price. (No UI library here: the plain mode uses it too.)"""

from __future__ import annotations


def hosting_label(option, backend: str) -> str:
    """One endpoint choice as the list shows it: the type, what it costs, what the account may run."""
    if backend != "aws":
        return f"{option.instance_type} — this computer, free"
    price = "price unknown" if option.price_per_hour is None else f"${option.price_per_hour:.3f}/hour"
    quota = "" if option.quota is None else f", quota {option.quota}"
    return f"{option.instance_type} — {price}{quota}"


def usable_hosting(trained) -> list:
    """The endpoint types worth offering: those the account may run (quota unknown counts), the
    recommended one first."""
    usable = [o for o in trained.hosting if o.quota != 0] or [o for o in trained.hosting if o.instance_type == trained.recommended_hosting]
    return sorted(usable, key=lambda o: (o.instance_type != trained.recommended_hosting, o.price_per_hour is None, o.price_per_hour or 0))
