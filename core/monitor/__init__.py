"""Everything SageMaker (or the local backend) runs, what it costs now, and what to do about it:
the UI-free core behind ``sagewiz monitor``.

``Monitor(...).refresh()`` → :class:`Snapshot` of :class:`Section` s of :class:`Item` s;
``plan(item, monitor)`` → :class:`Action` (with the question naming the cost), then
``carry_out(action, monitor)``. Nothing here imports a UI package.
"""

from sagewiz.core.monitor.actions import Action, carry_out, plan
from sagewiz.core.monitor.model import KIND_TITLES, KINDS, Item, Section, Snapshot
from sagewiz.core.monitor.monitor import Monitor

__all__ = ["KINDS", "KIND_TITLES", "Action", "Item", "Monitor", "Section", "Snapshot", "carry_out", "plan"]
