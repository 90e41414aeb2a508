"""How scores are written in summaries, reports and logs: one place for their digits."""

from __future__ import annotations


def with_interval(scores: dict, key: str) -> str:
    """``0.9833 [0.9640, 0.9923]``: ``scores[key]`` and its 95 % interval ``scores["ci95"][key]``."""
    interval = scores["ci95"][key]
    return f"{scores[key]:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"


def mean_std(summary: dict) -> str:
    """``0.9868 ± 0.0026``: the folds' mean and standard deviation of one score."""
    return f"{summary['mean']:.4f} ± {summary['std']:.4f}"
