"""Run a stage's main function: a user error or a full, read-only or forbidden disk becomes one
clear line and exit status 1, a bug keeps its traceback, and SIGTERM unwinds like Ctrl-C so
that no temporary output is left."""

from __future__ import annotations

import errno
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
    try:
        main()
    except StarrecError as error:
        _fail(str(error))
    except OSError as error:
        if error.errno not in LOCAL_IO_ERRORS:
            raise
        _fail(describe(error))
    except Exception as error:
        local = native_io_error(error)
        if local is None:
            raise
        _fail(describe(local))


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
