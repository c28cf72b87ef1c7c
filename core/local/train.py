"""``python -m sagewiz.core.local.train JOB_FOLDER``: the training engine's process.

The local backend starts it in its own session (see :func:`sagewiz.core.local.job.launch`);
everything it has to say goes into the job folder, never to a terminal.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sagewiz.core.local.train JOB_FOLDER", file=sys.stderr)
        return 2
    from sagewiz.core.local.engine import run_job

    return run_job(args[0])


if __name__ == "__main__":
    sys.exit(main())
