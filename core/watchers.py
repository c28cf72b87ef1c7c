"""Which wizard is walking which run. From its Train step on, a wizard holds the run's lock
(core/locks.py, the same lock ``sagewiz run`` holds while it runs or resumes a run) until it
exits. Another wizard then says the run is being watched elsewhere instead of offering to resume
it, and ``sagewiz run --resume`` of it is refused: two sagewiz on one run would both follow its job
and race to deploy its model. The operating system lets go of the lock when its wizard ends,
however it ends (killed, crashed), so a run is never left looking watched."""

from __future__ import annotations

import atexit
from contextlib import ExitStack

_held = ExitStack()  # the lock of the run this process walks, held until stop_watching()


def _home():
    from sagewiz.core.ledger import default_ledger_path

    return default_ledger_path().parent


def watch(run_id: str) -> None:
    """Hold ``run_id`` for this process (instead of any run it watched before). Raises
    RunBusyError when another sagewiz holds it, and WizardError when the lock can't be made."""
    from sagewiz.core.locks import holding_run

    stop_watching()
    _held.enter_context(holding_run(_home(), run_id))


def stop_watching() -> None:
    """This process watches no run any more (the wizard is closing). Raises nothing."""
    try:
        _held.close()
    except OSError:
        pass


atexit.register(lambda: stop_watching())  # let go while the interpreter can still run the lock's code


def watcher_of(run_id: str) -> int | None:
    """The pid of another live sagewiz process walking or running ``run_id``, or None. Raises nothing."""
    from sagewiz.core.locks import run_holder

    return run_holder(_home(), run_id)
