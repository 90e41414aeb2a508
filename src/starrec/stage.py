"""Run a stage's main function: a user error or a full, read-only or forbidden disk becomes one
clear line and exit status 1, a bug keeps its traceback, and SIGTERM unwinds like Ctrl-C so
that no temporary output is left."""

from __future__ import annotations

import errno
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from starrec.errors import StarrecError

LOCAL_IO_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS})
"""OSErrors caused by the machine, not the code: reported as ``error: <path>: <cause>``."""


def run_stage(main: Callable[[], None]) -> None:
    """Call ``main``; print a :class:`StarrecError` or a local I/O error as ``error: ...`` and exit 1.

    SIGTERM raises ``SystemExit(143)`` in ``main``, so its ``finally`` blocks
    (:func:`starrec.atomic.atomic_path`) remove what it had half written.
    """
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    gc.freeze()  # what the imports made lives to the end: no collection scans it, nor the one at exit (~0.8 s)
    try:
        main()
    except Exception as error:
        message = one_line(error)
        if message is None:
            raise
        _fail(message)


def one_line(error: Exception, any_path: bool = False) -> str | None:
    """The one line a user sees for ``error``, or None for a bug (whose traceback they should see): a
    :class:`StarrecError`'s message, or ``<path>: <cause>`` for an I/O error of the machine (a full, read-only
    or forbidden disk; inside TensorFlow's OpError too). ``any_path``: every OSError is the user's (a path they
    typed: the ``starrec`` command), not only the machine's."""
    if isinstance(error, StarrecError):
        return str(error)
    if isinstance(error, OSError) and (any_path or error.errno in LOCAL_IO_ERRORS):
        return describe(error)
    local = native_io_error(error)
    return None if local is None else describe(local)


def native_io_error(error: Exception) -> OSError | None:
    """The local I/O error inside TensorFlow's ``OpError`` (its C++ file writers, e.g. a SavedModel's
    variables on a full disk: ``"... <path>; No space left on device [Op:SaveV2]"``), else None."""
    if not any(kind.__name__ == "OpError" for kind in type(error).__mro__):
        return None
    message = str(error)
    for number in LOCAL_IO_ERRORS:
        before, found, _ = message.partition(f"; {os.strerror(number)}")
        if found:
            return OSError(number, os.strerror(number), before.split()[-1] if before.split() else None)
    return None


def describe(error: OSError) -> str:
    """``<path>: <cause>`` (``No space left on device``, ``Permission denied``, ...), as one line."""
    return f"{error.filename}: {error.strerror or error}" if error.filename else str(error)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def _exit_on_terminate(signum: int, frame: object) -> NoReturn:
    sys.exit(128 + signum)
