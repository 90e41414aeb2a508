"""The ``starrec`` command: ``predict`` photos with a trained model, ``summary`` of the last run,
``compare`` two runs, ``report`` the workspace against a revision, ``serve`` the model over
HTTP with a web page, ``params`` (the default params.yaml, with the help of every key), ``tune apply``
(the search's best values into params.yaml)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from starrec import __version__, artifacts
from starrec.artifacts import KFoldReport, TestReport, TrainMachine, read_optional
from starrec.data.images import MAX_FILE_BYTES, MAX_PIXELS
from starrec.errors import MissingInput
from starrec.evaluation.formatting import mean_std, with_interval
from starrec.params import load_params, render_params_yaml
from starrec.stage import one_line

PIPELINE_ONLY = frozenset(
    {"tensorflow", "keras", "markdown", "matplotlib", "dvc", "dvclive", "sklearn", "scipy", "pandas", "optuna", "tqdm"}
)
"""What the pipeline extra brings and the lean service install (the serve extra) leaves out."""
LEAN_INSTALL = (
    " needs {module}, which this install (starrec[serve]) leaves out: it predicts and serves the .onnx and .tflite"
    " exports (--model models/export/model.onnx); `pip install 'starrec[pipeline,cpu]'` brings .keras, SavedModel,"
    " report, summary and tune"
)


def summary() -> str:
    """Test accuracy and macro F1 with their 95 % intervals and whether they lie inside the committed run's
    (:func:`~starrec.evaluation.runs.against_committed`), the K-fold mean ± std and, once tune/dvc.yaml ran,
    the search's best K-fold score (with why it is optimistic) and the learning curve's diagnosis: the lines
    of the metrics files there are."""
    from starrec.evaluation.runs import against_committed
    from starrec.tune.results import search_lines

    test, kfold = read_optional(artifacts.TEST, TestReport), read_optional(artifacts.KFOLD, KFoldReport)
    tune, curve = read_optional(artifacts.TUNE, dict), read_optional(artifacts.LEARNING_CURVE, dict)
    if not (test or kfold or tune or curve):
        raise MissingInput(f"{artifacts.TEST}: missing; run `dvc repro` (make run) first")
    lines = []
    if test:
        lines.append(
            f"test: accuracy {with_interval(test, 'accuracy')}, macro F1 {with_interval(test, 'f1_macro')} "
            f"({test['n_examples']} images; 95 % intervals)"
        )
        if committed := against_committed(test, read_optional(artifacts.TRAIN_MACHINE, TrainMachine)):
            lines.append(committed)
    if kfold:
        lines.append(
            f"{kfold['k']}-fold: accuracy {mean_std(kfold['accuracy'])}, macro F1 {mean_std(kfold['f1_macro'])}"
        )
    if tune:
        lines += search_lines(tune, load_params(artifacts.PARAMS))
    if curve:
        lines.append(f"learning curve: {curve['line']}")
    return "\n".join(lines)


def _tune(args: argparse.Namespace) -> int:
    from starrec.tune.results import apply_best

    changes = apply_best(args.params, artifacts.TUNE)
    print("\n".join(changes) if changes else f"{args.params} already holds the best trial's values")
    if changes:
        print("then `dvc repro` trains and tests the chosen params once (dvc exp run keeps it as an experiment)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from starrec.ship.predict import format_predictions, predict_photos

    results = predict_photos(args.photos, model_path=args.model, top_k=args.top_k)
    print(json.dumps(results, indent=2) if args.json else format_predictions(results))
    failed = [result for result in results if "error" in result]
    for result in failed:
        print(f"error: {result['photo']}: {result['error']}", file=sys.stderr)
    return 1 if failed else 0


def _compare(args: argparse.Namespace) -> int:
    from starrec.evaluation.compare import compare
    from starrec.evaluation.runs import load_run

    comparison = compare(load_run(args.a), load_run(args.b))
    print(json.dumps(comparison.report(args.alpha), indent=2) if args.json else "\n".join(comparison.lines(args.alpha)))
    return 0


def _experiments(args: argparse.Namespace) -> int:
    from starrec.evaluation.experiments import experiments_table

    print("\n".join(experiments_table(args.against, args.alpha)))
    return 0


def _report(args: argparse.Namespace) -> int:
    from starrec.app.report import write_report

    for path in write_report(args.against, args.out):
        print(f"report: {path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from starrec.ship.serve import Limits, serve

    limits = Limits(
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_pixels=int(args.max_megapixels * 1e6),
        decodes=args.decodes,
        body_timeout_s=args.body_timeout,
        header_timeout_s=args.header_timeout,
        body_deadline_s=args.body_deadline,
        per_client=args.per_client,
    )
    hosts = [host.strip() for host in args.allowed_hosts.split(",") if host.strip()]
    if args.host not in ("0.0.0.0", "::", *hosts):
        hosts.append(args.host)
    serve(
        args.model,
        args.host,
        args.port,
        top_k=args.top_k,
        limits=limits,
        allowed_hosts=hosts,
        limit_concurrency=args.limit_concurrency,
        timeout_keep_alive=args.timeout_keep_alive,
    )
    return 0


def positive(kind, most: float | None = None):
    """An argparse type: a finite ``kind`` (int or float) above 0 and at most ``most``; one line otherwise."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text}: must be {NUMBER_NAMES[kind]}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text}: must be a finite number")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text}: must be above 0")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"{text}: must be at most {most:g}")
        return value

    return parse


NUMBER_NAMES = {int: "a whole number", float: "a number"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="starrec", description=__doc__)
    parser.add_argument("--version", action="version", version=f"starrec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="top-k classes with probabilities for each photo")
    predict.add_argument("photos", nargs="+", type=Path)
    models = f"{artifacts.MODEL.name}, or an export: a SavedModel folder, .onnx, .tflite"
    predict.add_argument("--model", type=Path, default=artifacts.MODEL, help=models)
    predict.add_argument("--top-k", type=positive(int), default=3)
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("summary", help="test accuracy, macro F1 and K-fold mean ± std of the last run")
    runs = "an experiment name, a git revision, or workspace"
    compare = commands.add_parser("compare", help="is A better than B? paired tests over the folds and test images")
    compare.add_argument("a", help=runs)
    compare.add_argument("b", help=runs)
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level of the verdict")
    compare.add_argument("--json", action="store_true", help="machine-readable output")
    experiments = commands.add_parser(
        "experiments", help="one row per DVC experiment: changed params, test and K-fold accuracy, paired test"
    )
    experiments.add_argument("--against", help=f"{runs} (default: the commit the experiments were run from)")
    experiments.add_argument("--alpha", type=float, default=0.05, help="significance level of the * mark")
    serve = commands.add_parser("serve", help="the model behind HTTP (POST /predict, GET /health) and a web page at /")
    serve.add_argument(
        "--model", type=Path, default=artifacts.MODEL, help=f"{artifacts.MODEL.name} (with saliency) or an export"
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (docs/shipping.md: Security)")
    serve.add_argument("--port", type=positive(int, most=65535), default=8000)
    serve.add_argument("--top-k", type=positive(int), default=3)
    serve.add_argument(
        "--max-upload-mb", type=positive(float, most=MAX_FILE_BYTES / 2**20), default=10.0, help="larger bodies: 413"
    )
    serve.add_argument(
        "--max-megapixels", type=positive(float, most=MAX_PIXELS / 1e6), default=24.0, help="larger photos: 422"
    )
    serve.add_argument("--decodes", type=positive(int), default=2, help="photos decoded at once; others wait")
    serve.add_argument("--body-timeout", type=positive(float), default=10.0, help="seconds a body may stall: 408")
    serve.add_argument("--header-timeout", type=positive(float), default=10.0, help="seconds for the headers")
    serve.add_argument("--body-deadline", type=positive(float), default=60.0, help="seconds for a whole body: 408")
    serve.add_argument("--per-client", type=positive(int), default=32, help="connections one address may hold: 503")
    serve.add_argument("--limit-concurrency", type=positive(int), default=64, help="connections; more get 503")
    serve.add_argument("--timeout-keep-alive", type=positive(int), default=5, help="seconds an idle connection stays")
    serve.add_argument(
        "--allowed-hosts",
        default="127.0.0.1,localhost",
        help="Host headers answered, comma-separated (* for any); --host is added",
    )
    report = commands.add_parser("report", help="the workspace against a revision: a Markdown and an HTML page")
    report.add_argument("--against", "--baseline", dest="against", default="HEAD", help=runs)  # --baseline: 0.2's name
    report.add_argument("--out", type=Path, default=Path("report"), help="the folder to write to")
    commands.add_parser("params", help="print the default params.yaml, every key with its help")
    tune = commands.add_parser("tune", help=f"apply: write the search's best values ({artifacts.TUNE}) to params.yaml")
    tune.add_argument("action", choices=["apply"])
    tune.add_argument("--params", type=Path, default=artifacts.PARAMS, help="the params file to rewrite")
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            print(summary())
            return 0
        if args.command == "params":
            print(render_params_yaml(), end="")
            return 0
        commands_run = {
            "predict": _predict,
            "compare": _compare,
            "experiments": _experiments,
            "report": _report,
            "serve": _serve,
            "tune": _tune,
        }
        return commands_run[args.command](args)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in PIPELINE_ONLY:
            raise
        print(f"error: starrec {args.command}{LEAN_INSTALL.format(module=error.name)}", file=sys.stderr)
        return 1
    except Exception as error:  # the stages' policy; a path typed here that is missing or unreadable is the user's too
        message = one_line(error, any_path=True)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
