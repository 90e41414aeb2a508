"""Run a stage's main function: a user error becomes one clear line and exit status 1."""

from __future__ import annotations

import sys
from collections.abc import Callable

from starrec.errors import StarrecError


def run_stage(main: Callable[[], None]) -> None:
    """Call ``main``; print a StarrecError or missing input as ``error: ...`` and exit 1."""
    try:
        main()
    except (StarrecError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
