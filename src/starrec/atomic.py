"""Write outputs under a temporary name and rename them into place.

A crash or a bad input never leaves a half-written file under its final
name, and the previous version stays intact until the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only for the type: writing JSON must not import it
    import pandas as pd


@contextlib.contextmanager
def atomic_path(final: str | Path):
    """Yield a temporary sibling path of ``final``; rename it to ``final`` on success.

    Works for files and for directories (whatever the body creates at the
    temporary path). On an exception the temporary path is removed and
    ``final`` is left as it was. Temporary paths that a killed run left
    beside ``final`` are removed first. An OSError of the body that names no
    file (a failed ``write``: disk full, file too large) is given ``final`` as its filename.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for leftover in final.parent.glob(f".{final.name}.*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    target = temporary / final.name
    try:
        yield target
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(target, final)
    except OSError as error:
        if error.filename is None:
            error.filename = str(final)
        raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_json(path: str | Path, data: object) -> None:
    """Write ``data`` as indented JSON, atomically; NaN is refused (use None)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A CSV cell starting with one of these is run as a formula when a spreadsheet opens the file (OWASP)."""


def write_csv(path: str | Path, frame: pd.DataFrame) -> None:
    """Write a pandas DataFrame as CSV without its index, atomically; a text cell that a spreadsheet would
    run as a formula is written with a leading ``'`` (numbers are left as they are)."""
    frame = frame.copy()
    for column in frame.select_dtypes(exclude=["number", "bool"]).columns:
        frame[column] = frame[column].map(
            lambda cell: f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell
        )
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)
