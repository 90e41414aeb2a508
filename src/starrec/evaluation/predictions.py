"""``metrics/predictions.csv``: one row per test image (id, actual, predicted, confidence), written by the
evaluate stage; :func:`read_predictions` is its one reader (compare, report and visualize use it)."""

from __future__ import annotations

import pandas as pd

TEXT_COLUMNS = {"id": str, "actual": str, "predicted": str}


def read_predictions(source) -> pd.DataFrame:
    """The rows of a predictions.csv (a path or a text buffer): the text columns exactly as written (a class
    named ``NA`` stays ``NA``, not pandas' missing value), ``confidence`` a number."""
    return pd.read_csv(source, dtype=TEXT_COLUMNS, keep_default_na=False)
