"""``starrec compare A B``: is run A better than run B, or is the difference noise?

A and B are runs (:mod:`starrec.evaluation.runs`: an experiment name, a git revision or ``workspace``).
The K-fold scores are compared fold by fold with the corrected resampled t-test, the test
predictions image by image with McNemar's test (:mod:`starrec.evaluation.significance`); both need the
same folds and the same test images, and the comparison refuses otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starrec import artifacts
from starrec.errors import StarrecError
from starrec.evaluation.runs import SCORE_NAMES, RunResults, params_diff
from starrec.evaluation.significance import McNemar, TTest, corrected_resampled_ttest, mcnemar

ALPHA = 0.05
FOLD_PARAMS = ("seed", "data", "split", "kfold")
"""The params sections that decide which examples each fold holds."""


class NotComparable(StarrecError, ValueError):
    """The two runs were not tested on the same folds or the same test images."""


@dataclass(frozen=True)
class Comparison:
    """A against B: the corrected t-test over the folds per score, McNemar on the test images."""

    a: RunResults
    b: RunResults
    folds: dict[str, TTest]
    test: McNemar

    @property
    def label(self) -> str:
        """``train.momentum 0.9 vs 0.0`` (the params that differ), else ``A vs B``."""
        differences = params_diff(self.a.params, self.b.params)
        if not differences:
            return f"{self.a.name} vs {self.b.name}"
        return ", ".join(f"{key} {json.dumps(x)} vs {json.dumps(y)}" for key, (x, y) in differences.items())

    def lines(self, alpha: float = ALPHA) -> list[str]:
        """The comparison as printed: per score the folds' and the test set's numbers, then the verdict."""
        k, n = self.a.kfold["k"], len(self.a.predictions)
        lines = [f"A = {self.a.name}, B = {self.b.name}: the same {k} folds and the same {n} test images"]
        for score, title in SCORE_NAMES.items():
            ttest = self.folds[score]
            lines.append(
                f"{title}: {k}-fold mean {self.a.kfold[score]['mean']:.4f} vs {self.b.kfold[score]['mean']:.4f}, "
                f"{points(ttest.difference)}, corrected t-test t = {ttest.t:.2f}, p = {p_value(ttest.p)}"
            )
            a, b = self.a.test[score], self.b.test[score]
            test_line = f"  test {a:.4f} vs {b:.4f}, {points(a - b)}"
            if score == "accuracy":
                test_line += (
                    f", McNemar: {self.test.a_only} images only A got right, {self.test.b_only} only B, "
                    f"p = {p_value(self.test.p)}"
                )
            lines.append(test_line)
        return [*lines, self.verdict(alpha)]

    def verdict(self, alpha: float = ALPHA) -> str:
        """``train.momentum 0.9 vs 0.0: +1.65 points accuracy over 5 folds, p = 0.036 (...), significant ...``"""
        ttest = self.folds["accuracy"]
        return (
            f"{self.label}: {points(ttest.difference)} accuracy over {ttest.folds} folds, p = {p_value(ttest.p)} "
            f"(corrected t-test), {significance(ttest.p, alpha)}; on the test images "
            f"{points(self.a.test['accuracy'] - self.b.test['accuracy'])}, p = {p_value(self.test.p)} (McNemar), "
            f"{significance(self.test.p, alpha)}"
        )

    def report(self, alpha: float = ALPHA) -> dict:
        """The comparison as JSON: both runs' names, the params that differ, the tests, the verdict."""
        return {
            "a": self.a.name,
            "b": self.b.name,
            "params": {key: {"a": x, "b": y} for key, (x, y) in params_diff(self.a.params, self.b.params).items()},
            "folds": {score: vars(ttest) for score, ttest in self.folds.items()},
            "test": {
                **{score: {"a": self.a.test[score], "b": self.b.test[score]} for score in SCORE_NAMES},
                "mcnemar": vars(self.test),
            },
            "alpha": alpha,
            "verdict": self.verdict(alpha),
        }


def points(difference: float) -> str:
    """0.0165 -> ``+1.65 points``."""
    return f"{100 * difference:+.2f} points"


def p_value(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def significance(p: float, alpha: float) -> str:
    return f"significant at {alpha:g}" if p < alpha else f"not significant at {alpha:g}"


def compare(a: RunResults, b: RunResults) -> Comparison:
    """The comparison of two runs; NotComparable unless they share their folds and test images."""
    for run in (a, b):
        if "folds_id" not in run.kfold:
            raise NotComparable(f"{run.name}: its {artifacts.KFOLD} has no folds_id; re-run its folds (dvc exp run)")
    if a.kfold["folds_id"] != b.kfold["folds_id"]:
        keys = [key for key in params_diff(a.params, b.params) if key.split(".")[0] in FOLD_PARAMS]
        cause = f" ({', '.join(keys)} differ)" if keys else ""
        raise NotComparable(
            f"{a.name} and {b.name} were cross-validated on different folds{cause}; "
            "a paired comparison needs the same seed, kfold.k and data"
        )
    columns = ["id", "actual"]
    if not a.predictions[columns].equals(b.predictions[columns]):
        raise NotComparable(f"{a.name} and {b.name} were tested on different test images; compare runs of one split")
    n_total = sum(fold["n_test"] for fold in a.kfold["folds"])
    n_test = [fold["n_test"] for fold in a.kfold["folds"]]
    folds = {
        score: corrected_resampled_ttest(
            [fold[score] for fold in a.kfold["folds"]], [fold[score] for fold in b.kfold["folds"]], n_test, n_total
        )
        for score in SCORE_NAMES
    }

    def correct(run: RunResults):
        return (run.predictions["actual"] == run.predictions["predicted"]).to_numpy()

    return Comparison(a, b, folds, mcnemar(correct(a), correct(b)))
