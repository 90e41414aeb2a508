"""The ``starrec`` command: ``predict`` photos with a trained model, ``summary`` of the last run,
``params`` (the default params.yaml, with the help of every key)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from starrec import paths
from starrec.errors import StarrecError
from starrec.params import render_params_yaml


def summary() -> str:
    """Test accuracy and macro F1 with their 95 % intervals, and the K-fold mean ± std, from the metrics files."""
    test = json.loads(paths.TEST.read_text(encoding="utf-8"))
    kfold = json.loads(paths.KFOLD.read_text(encoding="utf-8"))
    accuracy, f1 = kfold["accuracy"], kfold["f1_macro"]

    def with_interval(name: str) -> str:
        interval = test["ci95"][name]
        return f"{test[name]:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"

    return (
        f"test: accuracy {with_interval('accuracy')}, macro F1 {with_interval('f1_macro')} "
        f"({test['n_examples']} images; 95 % intervals)\n"
        f"{kfold['k']}-fold: accuracy {accuracy['mean']:.4f} ± {accuracy['std']:.4f}, "
        f"macro F1 {f1['mean']:.4f} ± {f1['std']:.4f}"
    )


def _predict(args) -> int:
    from starrec.predict import format_predictions, predict_photos

    results = predict_photos(args.photos, model_path=args.model, top_k=args.top_k)
    print(json.dumps(results, indent=2) if args.json else format_predictions(results))
    failed = [result for result in results if "error" in result]
    for result in failed:
        print(f"error: {result['photo']}: {result['error']}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="starrec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="top-k classes with probabilities for each photo")
    predict.add_argument("photos", nargs="+", type=Path)
    predict.add_argument("--model", type=Path, default=paths.MODEL)
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("summary", help="test accuracy, macro F1 and K-fold mean ± std of the last run")
    commands.add_parser("params", help="print the default params.yaml, every key with its help")
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            print(summary())
            return 0
        if args.command == "params":
            print(render_params_yaml(), end="")
            return 0
        return _predict(args)
    except StarrecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
