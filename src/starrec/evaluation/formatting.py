"""How scores are written in summaries, reports, the model card and logs: one place for their digits, and
for Markdown text that renders as itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starrec.artifacts import MeanStd


def with_interval(scores: Mapping[str, Any], key: str) -> str:
    """``0.9833 [0.9640, 0.9923]``: ``scores[key]`` and its 95 % interval ``scores["ci95"][key]``."""
    interval = scores["ci95"][key]
    return f"{scores[key]:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"


def score(value: float | None) -> str:
    """A score with 4 decimals, or "undefined" for null (a ratio with nothing to divide by)."""
    return "undefined" if value is None else f"{value:.4f}"


def mean_std(summary: MeanStd) -> str:
    """``0.9868 ± 0.0026``: the folds' mean and standard deviation of one score."""
    return f"{summary['mean']:.4f} ± {summary['std']:.4f}"


MARKUP = frozenset("<>&\"'|*_`[]\\!#")
"""HTML's specials, the table separator and Markdown's emphasis, code and link characters."""


def markdown_text(value: object) -> str:
    """``value`` as Markdown text that renders as itself: each :data:`MARKUP` character as a numeric HTML
    entity (Markdown passes raw HTML through to the page, so a name must never be read as markup)."""
    return "".join(f"&#{ord(c)};" if c in MARKUP else c for c in str(value))


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; the header cells are escaped here, the row cells by the caller (:func:`markdown_text`)."""
    lines = ["| " + " | ".join(markdown_text(cell) for cell in header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])
