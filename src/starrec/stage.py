"""Run a stage's main function: a user error becomes one clear line and exit status 1, a bug
keeps its traceback, and SIGTERM unwinds like Ctrl-C so that no temporary output is left."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from starrec.errors import StarrecError


def run_stage(main: Callable[[], None]) -> None:
    """Call ``main``; print a :class:`StarrecError` as ``error: ...`` and exit 1.

    SIGTERM raises ``SystemExit(143)`` in ``main``, so its ``finally`` blocks
    (:func:`starrec.atomic.atomic_path`) remove what it had half written.
    """
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    try:
        main()
    except StarrecError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


def _exit_on_terminate(signum, frame):
    sys.exit(128 + signum)
