"""``starrec report [--against REV]``: the workspace against another revision, as one page.

Written as ``report.md`` (with its PNG charts beside it, for a pull-request comment) and
``report.html`` (the same page with the charts inside as data: URIs, so it opens offline
from anywhere): the params that differ, the metrics with their 95 % intervals (and the
baseline stage's), the ``starrec compare`` verdict, the learning curves of both, the
workspace's confusion matrix and, once tune/dvc.yaml ran, its search and learning curve by size.
A result one side lacks shows as "-", a comparison that cannot be made as its reason.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import markdown
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from starrec import artifacts
from starrec.atomic import atomic_path
from starrec.errors import MissingInput, StarrecError
from starrec.evaluation.compare import SCORE_NAMES, compare, points
from starrec.evaluation.formatting import markdown_table, markdown_text, mean_std, with_interval
from starrec.evaluation.predictions import read_predictions
from starrec.evaluation.runs import WORKSPACE, load_run, params_diff, read_params, read_text

matplotlib.rcParams["text.parse_math"] = False  # labels come from data (class names): never mathtext

CURVES = artifacts.TRAIN_LIVE / "plots" / "metrics"
"""dvclive's per-epoch TSVs: ``train/<name>.tsv`` and ``eval/<name>.tsv``."""
SEARCH_CHARTS = ("search.png", "importance.png", "size_curve.png")
BASELINES = {"eigenfaces": "eigenfaces (PCA + SVC)", "logistic_regression": "logistic regression"}


def _read(name: str, path: Path) -> str | None:
    try:
        return read_text(name, str(path))
    except MissingInput:
        return None


def _json(name: str, path: Path) -> dict | None:
    """``path`` at revision ``name`` as JSON (None where it is missing); one line naming both if damaged."""
    text = _read(name, path)
    try:
        return None if text is None else json.loads(text)
    except ValueError as error:
        raise StarrecError(f"{path} ({name}): not valid JSON ({error}); {artifacts.restore_hint(path)}") from None


def _with_interval(scores: dict | None, key: str) -> str:
    return "-" if scores is None else with_interval(scores, key)


def _get(tree: dict | None, *keys: str):
    """``tree[k1][k2]...``, or None where a level is missing (a result one side lacks)."""
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _change(new: float | None, old: float | None) -> str:
    return "-" if new is None or old is None else points(new - old)


def params_section(against: str) -> str:
    """The params keys whose values differ, defaults filled in, as a table (or a sentence when none does)."""
    differences = params_diff(*(read_params(name) for name in (against, WORKSPACE)))
    if not differences:
        return "No params differ."
    rows = [
        [markdown_text(key), markdown_text(json.dumps(x)), markdown_text(json.dumps(y))]
        for key, (x, y) in differences.items()
    ]
    return markdown_table(["param", against, WORKSPACE], rows)


def metrics_section(against: str) -> str:
    """Test scores with their intervals, the K-fold mean ± std and the baselines' test scores."""
    tests = {name: _json(name, artifacts.TEST) for name in (against, WORKSPACE)}
    kfolds = {name: _json(name, artifacts.KFOLD) for name in (against, WORKSPACE)}
    classics = {name: _json(name, artifacts.BASELINE) for name in (against, WORKSPACE)}
    rows = []
    for key, title in SCORE_NAMES.items():
        old, new = tests[against], tests[WORKSPACE]
        rows.append(
            [
                f"CNN test {title}",
                _with_interval(old, key),
                _with_interval(new, key),
                _change(_get(new, key), _get(old, key)),
            ]
        )
    for key, title in SCORE_NAMES.items():

        def fold_cell(kfold: dict | None, key=key) -> str:
            return "-" if kfold is None else mean_std(kfold[key])

        old, new = kfolds[against], kfolds[WORKSPACE]
        k = (new or old or {}).get("k", "K")
        rows.append(
            [
                f"CNN {k}-fold {title}",
                fold_cell(old),
                fold_cell(new),
                _change(_get(new, key, "mean"), _get(old, key, "mean")),
            ]
        )
    for method, method_title in BASELINES.items():
        for key, title in SCORE_NAMES.items():
            old, new = (_get(classics[name], method) for name in (against, WORKSPACE))
            rows.append(
                [
                    f"{method_title} test {title}",
                    _with_interval(old, key),
                    _with_interval(new, key),
                    _change(_get(new, key), _get(old, key)),
                ]
            )
    return markdown_table(["metric (95 % interval)", against, WORKSPACE, "change"], rows)


def verdict_section(against: str) -> str:
    """``starrec compare workspace <against>``, or why it cannot be made."""
    try:
        comparison = compare(load_run(WORKSPACE), load_run(against))
    except StarrecError as error:
        return f"No comparison: {markdown_text(error)}."
    *details, verdict = comparison.lines()
    return f"**{markdown_text(verdict)}**\n\n" + "\n".join(
        f"    {line}" for line in details
    )  # a code block: shown as is


def _curve(text: str | None) -> pd.DataFrame | None:
    return None if text is None else pd.read_csv(io.StringIO(text), sep="\t")


def epoch_curves(against: str, metric: str) -> bytes:
    """PNG: ``metric`` per epoch, training (solid) and validation (dashed), for both sides."""
    figure = Figure(figsize=(6, 3.6), dpi=100)
    axis = figure.subplots()
    for name, color in ((against, "tab:gray"), (WORKSPACE, "tab:blue")):
        for part, style in (("train", "-"), ("eval", "--")):
            curve = _curve(_read(name, CURVES / part / f"{metric}.tsv"))
            if curve is not None:
                label = f"{name} {'training' if part == 'train' else 'validation'}"
                axis.plot(curve["step"] + 1, curve[metric], style, color=color, label=label)
    axis.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch")
    if axis.lines:  # a run without per-epoch curves draws none, and needs no legend
        axis.legend(fontsize=8)
    return _png(figure)


def confusion_matrix(name: str) -> bytes | None:
    """PNG: the test confusion matrix of ``name`` (rows: true class, columns: predicted)."""
    predictions, classes = _read(name, artifacts.PREDICTIONS), _json(name, artifacts.CLASSES)
    if predictions is None or classes is None:
        return None
    rows = read_predictions(io.StringIO(predictions))
    counts = pd.crosstab(rows["actual"], rows["predicted"]).reindex(index=classes, columns=classes, fill_value=0)
    size = max(4.0, 0.45 * len(classes) + 2)
    figure = Figure(figsize=(size, size), dpi=100)
    axis = figure.subplots()
    matrix = counts.to_numpy()
    axis.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            color = "white" if count > matrix.max() / 2 else "black"
            axis.text(column, row, str(count), ha="center", va="center", fontsize=8, color=color)
    axis.set_xticks(range(len(classes)), classes, rotation=90)
    axis.set_yticks(range(len(classes)), classes)
    axis.set(xlabel="predicted", ylabel="true class", title=f"Confusion matrix, test ({name})")
    return _png(figure)


def search_history(name: str) -> bytes | None:
    """PNG: each trial's K-fold accuracy (pruned: its last running mean, hollow) and the best so far."""
    rows = _json(name, artifacts.TUNE_HISTORY)
    if not rows:
        return None
    figure = Figure(figsize=(6, 3.6), dpi=100)
    axis = figure.subplots()
    for state, marker in (("complete", "o"), ("pruned", "x")):
        shown = [row for row in rows if row["state"] == state and row["accuracy"] is not None]
        axis.plot([row["trial"] for row in shown], [row["accuracy"] for row in shown], marker, label=state)
    best = [row for row in rows if row["best"] is not None]
    axis.step([row["trial"] for row in best], [row["best"] for row in best], where="post", label="best so far")
    axis.set(xlabel="trial", ylabel="K-fold accuracy", title="Search history")
    axis.legend(fontsize=8)
    return _png(figure)


def param_importance(name: str) -> bytes | None:
    """PNG: the fANOVA importance of each searched param."""
    rows = _json(name, artifacts.TUNE_IMPORTANCE)
    if not rows:
        return None
    figure = Figure(figsize=(6, 0.5 * len(rows) + 1.2), dpi=100)
    axis = figure.subplots()
    axis.barh([row["param"] for row in rows][::-1], [row["importance"] for row in rows][::-1])
    axis.set(xlabel="importance (fANOVA)", title="What the K-fold accuracy depends on")
    return _png(figure)


def size_curve(name: str) -> bytes | None:
    """PNG: K-fold training and validation accuracy by training-set size, ± one standard deviation."""
    curve = _json(name, artifacts.LEARNING_CURVE)
    if not curve:
        return None
    figure = Figure(figsize=(6, 3.6), dpi=100)
    axis = figure.subplots()
    sizes = [point["n_train"] for point in curve["points"]]
    for part, label in (("train", "training"), ("validation", "validation")):
        means = np.asarray([point[part]["mean"] for point in curve["points"]])
        spread = np.asarray([point[part]["std"] for point in curve["points"]])
        axis.plot(sizes, means, "o-", label=label)
        axis.fill_between(sizes, means - spread, means + spread, alpha=0.2)
    axis.set(xlabel="training images", ylabel="accuracy", title="Learning curve by training-set size")
    axis.legend(fontsize=8)
    return _png(figure)


def search_section() -> str | None:
    """The search's best K-fold score beside where it started, why it is optimistic, and the learning curve's
    diagnosis (None before tune/dvc.yaml ran)."""
    from starrec.params import load_params
    from starrec.tune.results import search_lines

    tune, curve = _json(WORKSPACE, artifacts.TUNE), _json(WORKSPACE, artifacts.LEARNING_CURVE)
    if tune is None and curve is None:
        return None
    lines = []
    if tune:
        lines += [markdown_text(line.strip()) for line in search_lines(tune, load_params(artifacts.PARAMS))]
    if curve:
        lines.append(f"**Learning curve:** {markdown_text(curve['line'])}")
    return "\n\n".join(lines)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_report(against: str, out: Path) -> tuple[Path, Path]:
    """``out/report.md`` (+ its PNGs) and the self-contained ``out/report.html``."""
    charts = {
        "loss.png": epoch_curves(against, "loss"),
        "accuracy.png": epoch_curves(against, "accuracy"),
        "confusion.png": confusion_matrix(WORKSPACE),
        "search.png": search_history(WORKSPACE),
        "importance.png": param_importance(WORKSPACE),
        "size_curve.png": size_curve(WORKSPACE),
    }
    search = search_section()
    title = f"starrec report: {WORKSPACE} vs {against}"  # escaped where it is written
    sections = {
        "Params that differ": params_section(against),
        "Metrics": metrics_section(against),
        "Is the difference real?": verdict_section(against),
    }

    def page(image_source) -> str:
        lines = [f"# {markdown_text(title)}\n"] + [f"## {heading}\n\n{body}\n" for heading, body in sections.items()]
        lines.append("## Learning curves\n")
        lines += [f"![{name}]({image_source(name)})\n" for name in ("loss.png", "accuracy.png")]
        if charts["confusion.png"]:
            lines.append(f"## Confusion matrix\n\n![confusion]({image_source('confusion.png')})\n")
        if search:
            lines.append(f"## Search and learning curve (workspace)\n\n{search}\n")
            lines += [f"![{name}]({image_source(name)})\n" for name in SEARCH_CHARTS if charts[name]]
        return "\n".join(lines)

    if out.exists() and not out.is_dir():
        raise StarrecError(f"--out {out}: is a file, not a folder; name a folder for the report")
    out.mkdir(parents=True, exist_ok=True)
    for name, png in charts.items():
        if png:
            with atomic_path(out / name) as path:
                path.write_bytes(png)
    md_path, html_path = out / "report.md", out / "report.html"
    with atomic_path(md_path) as path:
        path.write_text(page(lambda name: name), encoding="utf-8")

    def data_uri(name: str) -> str:
        png = charts[name]
        assert png is not None  # only drawn charts are linked
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    body = markdown.markdown(page(data_uri), extensions=["tables"])
    with atomic_path(html_path) as path:
        path.write_text(HTML.format(title=html.escape(title), body=body), encoding="utf-8")
    return md_path, html_path


HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; }}
img {{ max-width: 100%; }} pre {{ background: #f6f6f6; padding: 0.6em; overflow-x: auto; }}
</style></head>
<body>
{body}
</body></html>
"""
