"""The real pipeline: dvc repro in a temporary copy of the repo on a tiny config."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from helpers.data import save_image
from helpers.project import ENV, copy_project, free_port, run, stages_run
from starrec.ship.classifiers import load_classifier

pytestmark = pytest.mark.e2e

TINY = {
    "seed": 3,
    "data": {
        "source": "synthetic",
        "synthetic_classes": 3,
        "synthetic_per_class": 20,
        "min_images_per_class": 5,
        "unknown_source": "strangers",  # people in none of the classes (made by the fixture)
    },
    "image": {"size": 16, "shard_size": 16},
    "augment": {"copies": 1},
    "model": {"conv_filters": [8], "dense_units": [16], "dropout": 0.0},
    "train": {"epochs": 6, "batch_size": 8, "momentum": 0.9},
    "runtime": {"backup_every_s": 0},
    "kfold": {"k": 2, "parts": [0, 1]},
    "tune": {"trials": 2},
    "learning_curve": {"fractions": [0.5, 1.0]},
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A git + DVC copy of the project's own files with the tiny params, after one dvc repro of each pipeline
    (make run, make tune): what a user has who ran both (tests/test_tune_e2e.py: the search on its own)."""
    repo = copy_project(tmp_path_factory.mktemp("repo"), TINY)
    for i, pixels in enumerate(np.random.default_rng(0).integers(0, 256, (5, 24, 24, 3), np.uint8)):
        save_image(repo / "strangers" / f"{i}.png", pixels)
    output = run(repo, "dvc", "repro")
    run(repo, "dvc", "repro", "tune/dvc.yaml")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "repro")
    shutil.copytree(repo, as_repro_left_it(repo), symlinks=True)  # for the tests that need its whole run-cache
    return repo, output


def as_repro_left_it(repo: Path) -> Path:
    """Where the fixture keeps a copy of ``repo`` (workspace, git, DVC cache and run-cache) as its two
    repros left it: other tests change the repo and prune its run-cache."""
    return repo.with_name(f"{repo.name}-as-repro-left-it")


def test_repro_writes_metrics_a_user_can_trust(repo):
    repo, output = repo
    for stage in (
        "download",
        "convert",
        "split",
        "augment",
        "train",
        "fold@0",
        "fold@1",
        "kfold",
        "evaluate",
        "baseline",
        "card",
        "visualize",
    ):
        assert f"Running stage '{stage}'" in output
    noise = ("absl::InitializeLog", "oneDNN", "XNNPACK", "tf_tfl_flatbuffer_helpers", "Warning", "cpu_feature_guard")
    assert not [line for line in output.splitlines() if any(word in line for word in noise)]  # quiet by default
    test = json.loads((repo / "metrics/test.json").read_text())
    assert test["n_examples"] == 12  # 20% of 60
    per_class = json.loads((repo / "metrics/per_class.json").read_text())
    assert list(per_class) == ["class_0", "class_1", "class_2", "macro avg"] and "per_class" not in test
    assert sum(per_class[name]["tp"] for name in ("class_0", "class_1", "class_2")) == round(test["accuracy"] * 12)
    assert test["accuracy"] > 0.6  # the synthetic classes are easy; chance is 1/3
    kfold = json.loads((repo / "metrics/kfold.json").read_text())
    assert kfold["k"] == 2 and len(kfold["folds"]) == 2
    assert sum(fold["n_test"] for fold in kfold["folds"]) == 48  # train + val
    counts = json.loads((repo / "metrics/split_counts.json").read_text())
    assert sum(row["count"] for row in counts if row["split"] == "train") == 36
    loss = (repo / "metrics/train/plots/metrics/eval/loss.tsv").read_text().splitlines()
    assert len(loss) == 1 + TINY["train"]["epochs"]
    tracked = set(run(repo, "git", "ls-files", "data", "models", "metrics", "visuals").split())
    assert {name for name in tracked if not name.endswith(".gitignore")} == {  # the large outputs in the cache
        str(path.relative_to(repo)) for path in (repo / "metrics").rglob("*") if path.is_file()
    }  # the metrics and plot data in git (cache: false), so that a fresh clone diffs against them
    assert {"metrics/test.json", "metrics/kfold.json", "metrics/train/metrics.json"} <= tracked
    card = (repo / "models/model_card.md").read_text()
    assert "trained on `data.source` synthetic" in card and "its classes are not people" in card
    assert f"| this CNN | {test['accuracy']:.4f} [" in card and "| class&#95;0 | 12 | 4 | 4 |" in card
    unknown = json.loads((repo / "metrics/calibration.json").read_text())["unknown"]
    assert unknown["images"] == 5 and "5 faces of unknown people; files without one: 0" in output
    refused = f"{100 * unknown['refused']['value']:.1f} %"
    assert f"Of 5 faces of people in none of its classes (`data.unknown_source`) it refused {refused}" in card
    meta = yaml.safe_load(card.split("\n---\n")[0].removeprefix("---\n"))  # the Hugging Face front-matter
    scores = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert scores == {"accuracy": test["accuracy"], "f1": test["f1_macro"], "ece": test["ece"]}
    raw = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["download"]["outs"][0]["md5"]
    assert f"Git commit {run(repo, 'git', 'rev-parse', ':/^project').strip()} (HEAD" in card  # repro ran at it
    assert f"data (`data/raw`) md5 {raw} in dvc.lock" in card and "| model.onnx | " in card


def test_visuals_are_real_pictures(repo):
    repo, _ = repo
    pictures = sorted(p.name for p in (repo / "visuals").glob("*.png"))
    assert pictures == [
        "activations_conv_1.png",
        "filters_conv_1.png",
        "gradients_conv_1.png",
        "misclassified.png",
        "saliency.png",
        "split_counts.png",
    ]
    for name in pictures:
        pixels = np.asarray(Image.open(repo / "visuals" / name).convert("L"), dtype=float)
        assert pixels.std() > 5, name
    ranges = json.loads((repo / "metrics/visual_ranges.json").read_text())
    assert ranges["conv_1"]["activation"]["min"] == 0.0  # after ReLU
    assert ranges["conv_1"]["activation"]["max"] > 0.0


def test_second_repro_has_nothing_to_do(repo):
    repo, _ = repo
    assert "Data and pipelines are up to date" in run(repo, "dvc", "repro")


def test_editing_a_module_marks_every_stage_that_imports_it_changed(repo):
    repo, _ = repo
    module = repo / "src/starrec/data/manifest.py"
    original = module.read_text()
    module.write_text(original + "# an edit\n")
    try:
        status = json.loads(run(repo, "dvc", "status", "--json"))
    finally:
        module.write_text(original)
    changed = {
        stage
        for stage, entries in status.items()
        for entry in entries
        if isinstance(entry, dict) and "src/starrec/data/manifest.py" in entry.get("changed deps", {})
    }
    assert changed == {"convert", "split", "train", "fold@0", "fold@1", "evaluate", "baseline", "visualize"} | {
        "tune/dvc.yaml:tune",
        "tune/dvc.yaml:learning_curve",
    }
    assert "Data and pipelines are up to date" in run(repo, "dvc", "status")


def test_changing_a_runtime_key_re_runs_no_stage_but_the_params_check(repo):
    """runtime.* decides how a stage runs (backups, cache, TensorBoard), never its result: no stage lists it."""
    repo, _ = repo
    params = repo / "params.yaml"
    original = params.read_text()
    edited = yaml.safe_load(original)
    edited["runtime"] = {"backup_every_s": 5.0, "cache": "none", "tensorboard": True}
    params.write_text(yaml.safe_dump(edited))
    try:
        status = json.loads(run(repo, "dvc", "status", "--json"))
    finally:
        params.write_text(original)
    assert set(status) == {"check_params"}, status
    assert "Data and pipelines are up to date" in run(repo, "dvc", "status")


def backed_up_epochs(repo: Path) -> int:
    try:
        with np.load(repo / ".backup/train/backup.npz") as saved:
            return json.loads(str(saved["state"]))["epoch"]
    except (OSError, KeyError, ValueError):
        return 0


def run_until_killed(repo: Path, signal_number: int, after_epochs: int) -> None:
    """Start `dvc repro -s train` and kill it (the whole process group) once enough epochs are backed up."""
    process = subprocess.Popen(["dvc", "repro", "-s", "train"], cwd=repo, env=ENV, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while backed_up_epochs(repo) < after_epochs and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal_number)
    process.wait()
    assert backed_up_epochs(repo) >= after_epochs, "the run ended before it could be killed"


def curves(repo: Path) -> dict:
    """Every dvclive curve's (step, value) rows, without the timestamps."""
    tables = {}
    for tsv in sorted((repo / "metrics/train/plots/metrics").rglob("*.tsv")):
        rows = [line.split("\t") for line in tsv.read_text().splitlines()]
        columns = rows[0].index("step"), len(rows[0]) - 1
        tables[tsv.name] = [(row[columns[0]], row[columns[1]]) for row in rows[1:]]
    return tables


def test_a_killed_training_resumes_and_ends_as_an_uninterrupted_one(repo):
    repo, _ = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["epochs"] = 120
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        run(repo, "dvc", "repro", "-s", "train")
        straight = json.loads((repo / "metrics/train/metrics.json").read_text()), curves(repo)
        assert not (repo / ".backup/train").exists()  # a finished run leaves no backup
        # Back to the lock of 6 epochs, and no run-cache: the next repro must run train again.
        run(repo, "git", "checkout", "--", "dvc.lock")
        shutil.rmtree(repo / ".dvc/cache/runs")
        run_until_killed(repo, signal.SIGTERM, after_epochs=3)
        run_until_killed(repo, signal.SIGKILL, after_epochs=backed_up_epochs(repo) + 3)
        output = run(repo, "dvc", "repro", "-s", "train")
        assert "resuming after epoch" in output
        resumed = json.loads((repo / "metrics/train/metrics.json").read_text()), curves(repo)
        assert resumed == straight
    finally:
        run(repo, "git", "checkout", "--", "params.yaml", "dvc.lock", "metrics")  # the metrics are git's
        run(repo, "dvc", "checkout", "--force")


def test_metrics_and_plots_show(repo, browser):
    repo, _ = repo
    shown = in_columns(repo, 120, "dvc", "metrics", "show")  # the headline: test and K-fold accuracy and F1
    header = next(line for line in shown.splitlines() if line.startswith("Path"))
    assert header.split() == ["Path", "accuracy", "f1_macro", "kfold.accuracy", "kfold.f1_macro"], shown
    assert "metrics/scores/test.json" in shown and "metrics/scores/kfold.json" in shown
    assert "failed to load" not in shown and "per_class" not in shown and "ci95" not in shown
    details = run(repo, "dvc", "metrics", "show", "metrics/test.json", "metrics/kfold.json", "metrics/baseline.json")
    assert "eigenfaces.accuracy" in details and "logistic_regression.ci95.f1_macro.low" in details  # by path
    assert "ece_uncalibrated" in details and "accuracy.mean" in details
    by_path = run(repo, "dvc", "metrics", "show", "metrics/per_class.json")  # any file, by its path
    assert "class_1.recall" in by_path and "macro avg.f1" in by_path
    run(repo, "dvc", "plots", "show", "-o", "plots_html")
    page = (repo / "plots_html" / "index.html").read_text()
    assert "cdn.jsdelivr" not in page and "vega-embed 6.29.0" in page  # .dvc/plots-offline.html: no network
    charts = page.count("vegaEmbed(")
    assert charts >= 11 and page.index("Loss (train and validation)") < page.index('<img src="static/')  # curves first
    browser.execute_cdp_cmd("Network.enable", {})  # offline, as a user's laptop on a train
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    browser.get((repo / "plots_html" / "index.html").as_uri())
    drawn = "return [...document.querySelectorAll('.vega-embed canvas')].filter(c => c.width > 50).length"
    deadline = time.monotonic() + 60
    while browser.execute_script(drawn) < charts and time.monotonic() < deadline:
        time.sleep(0.2)
    assert browser.execute_script(drawn) == charts  # every chart drawn, none left blank
    for title in (
        "Loss (train and validation)",
        "Confusion matrix (test)",
        "ROC one-vs-rest (test)",
        "Reliability diagram (test; the diagonal is perfect calibration)",
        "Risk-coverage (test; answer only the surest fraction)",
        "K-fold accuracy per fold",
        "activations_conv_1.png",
        "saliency.png",
        "misclassified.png",
    ):
        assert title in page


def test_momentum_experiment_reruns_only_what_it_touches(repo):
    repo, _ = repo
    output = run(repo, "dvc", "exp", "run", "-S", "train.momentum=0.5")
    touched = {"check_params", "train", "fold@0", "fold@1", "kfold", "evaluate", "export", "card", "visualize"}
    assert stages_run(output) == touched  # not baseline: it reads no train.* param
    diff = run(repo, "dvc", "params", "diff")
    assert "train.momentum" in diff and "0.9" in diff and "0.5" in diff
    assert run(repo, "git", "diff", "--numstat", "params.yaml").split() == ["1", "1", "params.yaml"]  # one line
    assert "accuracy" in in_columns(repo, 120, "dvc", "metrics", "diff")
    # DVC lists each changed dependency too (the card's metrics files, the model): the README's short --drop
    table = in_columns(repo, 120, "dvc", "exp", "show", "--only-changed", "--no-pager", "--drop", ".*/|params.yaml")
    header = next(line for line in table.splitlines() if "Experiment" in line).split()
    assert header[:2] == ["Experiment", "Created"] and header[-1] == "train.momentum", table  # the changed scores
    assert {"kfold.accuracy", "kfold.f1_macro"} <= set(header), table  # (the 12 test images may not change)


def in_columns(repo: Path, columns: int, *command: str) -> str:
    """``command``'s output as a terminal of ``columns`` shows it; fails on a row wider or a cell cut to ``…``."""
    done = subprocess.run(command, cwd=repo, env=ENV | {"COLUMNS": str(columns)}, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    assert max(map(len, done.stdout.splitlines()), default=0) <= columns and "…" not in done.stdout, done.stdout
    return done.stdout


def test_queued_momentum_grid_then_compare_and_report(repo, browser):
    repo, _ = repo
    run(repo, "dvc", "exp", "run", "--queue", "-S", "train.momentum=0.0,0.9")
    run(repo, "dvc", "queue", "start", "-j", "2")  # two at once: no shared writable path
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = run(repo, "dvc", "queue", "status")
        if not any(word in status for word in ("Queued", "Running")):
            break
        time.sleep(5)
    assert status.count("Success") >= 2, status
    table = json.loads(run(repo, "dvc", "exp", "show", "--json", "--sort-by", "kfold.f1_macro"))
    experiments = {}  # momentum -> (name, the K-fold headline)
    for commit in table:
        for experiment in commit.get("experiments") or []:
            for revision in experiment["revs"]:
                data = revision.get("data") or {}
                params = data.get("params", {}).get("params.yaml", {}).get("data", {})
                if "metrics/scores/kfold.json" in data.get("metrics", {}):
                    kfold = data["metrics"]["metrics/scores/kfold.json"]["data"]["kfold"]
                    experiments[params["train"]["momentum"]] = (experiment["name"], kfold)
    assert {0.0, 0.9} <= set(experiments)
    (fast, fast_folds), (slow, slow_folds) = experiments[0.9], experiments[0.0]
    compared = json.loads(run(repo, "starrec", "compare", fast, slow, "--json"))
    assert compared["params"] == {"train.momentum": {"a": 0.9, "b": 0.0}}
    mean_difference = fast_folds["accuracy"] - slow_folds["accuracy"]  # the folds' means: their mean difference
    assert compared["folds"]["accuracy"]["difference"] == pytest.approx(mean_difference)
    assert compared["verdict"].startswith("train.momentum 0.9 vs 0.0: ")
    assert "(corrected t-test)" in compared["verdict"] and "(McNemar)" in compared["verdict"]
    listed = run(repo, "starrec", "experiments").splitlines()  # the grid side by side, in a terminal's width
    assert listed[0].split()[:2] == ["experiment", "train.momentum"] and max(map(len, listed)) <= 120, listed
    rows = {line.split()[0]: line.split()[1] for line in listed[1:-1]}
    assert rows[fast] == "0.9" and rows[slow] == "0.0", listed
    printed = run(repo, "starrec", "compare", "workspace", slow)
    assert printed.startswith(f"A = workspace, B = {slow}: the same 2 folds and the same 12 test images")

    run(repo, "starrec", "report", "--against", slow, "--out", "report")
    markdown = (repo / "report" / "report.md").read_text()
    momentum = yaml.safe_load((repo / "params.yaml").read_text())["train"]["momentum"]
    assert f"| train.momentum | 0.0 | {momentum} |" in markdown and "| CNN test accuracy |" in markdown
    assert "| eigenfaces (PCA + SVC) test accuracy |" in markdown and f"train.momentum {momentum} vs 0.0: " in markdown
    html = (repo / "report" / "report.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing to fetch: it opens offline
    browser.get((repo / "report" / "report.html").as_uri())
    sizes = browser.execute_script(
        "return Array.from(document.images).map(i => i.complete ? [i.naturalWidth, i.naturalHeight] : [0, 0])"
    )
    searched = [
        name for name in ("search.png", "importance.png", "size_curve.png") if (repo / "report" / name).exists()
    ]
    assert "## Search and learning curve (workspace)" in markdown and {"search.png", "size_curve.png"} <= set(searched)
    assert len(sizes) == 3 + len(searched) and all(width > 100 and height > 100 for width, height in sizes), sizes


def test_bad_params_stop_before_any_work(repo):
    repo, _ = repo
    original = (repo / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["train"]["momentun"] = 0.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        done = subprocess.run([sys.executable, "stages/train.py"], cwd=repo, capture_output=True, text=True)
    finally:
        (repo / "params.yaml").write_text(original)
    assert done.returncode == 1
    assert "train.momentun: unknown key (did you mean train.momentum?)" in done.stderr
    assert (repo / "models/model.keras").is_file()


def test_an_unknown_key_stops_the_next_repro_and_experiment(repo):
    repo, _ = repo
    original = (repo / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["data"]["sourc"] = "x"  # a section no stage tracks whole: no tracked param changes
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        repro = subprocess.run(["dvc", "repro"], cwd=repo, env=ENV, capture_output=True, text=True)
    finally:
        (repo / "params.yaml").write_text(original)
    try:
        experiment = subprocess.run(
            ["dvc", "exp", "run", "-S", "+data.sourc=x"], cwd=repo, env=ENV, capture_output=True, text=True
        )
    finally:
        (repo / "params.yaml").write_text(original)
    for done in (repro, experiment):
        assert done.returncode != 0
        assert "data.sourc: unknown key (did you mean data.source?)" in done.stdout + done.stderr
    assert "Data and pipelines are up to date" in run(repo, "dvc", "repro")


def copy_of(repo: Path, target: Path, **params) -> Path:
    """A copy of the tiny repo (workspace, git and DVC cache) with ``params`` ({section: {key: value}}) applied."""
    shutil.copytree(repo, target, symlinks=True)
    values = yaml.safe_load((target / "params.yaml").read_text())
    for section, changes in params.items():
        values[section].update(changes)
    (target / "params.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    return target


def files_of(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_two_workers_train_the_stage_and_only_the_chief_writes(repo, tmp_path):
    repo, _ = repo
    distributed = {"train": {"distribute": "multi_worker"}}
    chief, worker = copy_of(repo, tmp_path / "chief", **distributed), copy_of(repo, tmp_path / "worker", **distributed)
    worker_files = files_of(worker)
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}

    def env(index):
        return {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}

    other = subprocess.Popen(
        [sys.executable, "stages/train.py"],
        cwd=worker,
        env=env(1),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    done = subprocess.run(["dvc", "repro", "train"], cwd=chief, env=env(0), capture_output=True, text=True, timeout=600)
    worker_output = other.communicate(timeout=120)[0]
    assert done.returncode == 0 and other.returncode == 0, done.stdout + done.stderr + worker_output
    assert "on 2 replica(s)" in done.stdout and "on 2 replica(s)" in worker_output
    assert files_of(worker) == worker_files  # a worker writes nothing under the repo
    original, trained = (json.loads((r / "metrics/train/metrics.json").read_text()) for r in (repo, chief))
    assert trained.keys() == original.keys() and trained["step"] == original["step"]
    assert (chief / "models/model.keras").is_file()


@pytest.fixture
def s3_server():
    """moto's S3 server on a free port of 127.0.0.1 with an empty bucket ``starrec``: its endpoint, and a
    runner of dvc commands that have its credentials."""
    import boto3

    port = free_port()
    server = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    deadline = time.monotonic() + 60
    while True:
        try:
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name="us-east-1",
            )
            client.create_bucket(Bucket="starrec")
            break
        except Exception:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.5)

    def dvc(where: Path, *args: str) -> str:
        """``dvc ARGS`` in ``where`` with the server's credentials; its output (it must succeed)."""
        done = subprocess.run(["dvc", *args], cwd=where, env={**ENV, **credentials}, capture_output=True, text=True)
        assert done.returncode == 0, f"dvc {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    yield endpoint, dvc
    server.terminate()
    server.wait(timeout=30)


def test_a_shared_s3_remote_gives_a_fresh_clone_every_result(repo, tmp_path, s3_server):
    repo, _ = repo
    endpoint, dvc = s3_server

    origin = shutil.copytree(as_repro_left_it(repo), tmp_path / "origin", symlinks=True)  # every stage's run-cache
    for pipeline in ("dvc.yaml", "tune/dvc.yaml"):
        assert "Data and pipelines are up to date" in dvc(origin, "repro", pipeline)
    dvc(origin, "remote", "add", "-d", "shared", "s3://starrec/dvc")
    dvc(origin, "remote", "modify", "shared", "endpointurl", endpoint)
    run(origin, "git", "commit", "-qam", "the shared remote")
    dvc(origin, "push", "--run-cache")
    metrics = json.loads(dvc(origin, "metrics", "show", "--json"))

    fresh = tmp_path / "fresh"
    run(tmp_path, "git", "clone", "-q", str(origin), str(fresh))
    dvc(fresh, "pull")
    assert (fresh / "models/model.keras").is_file() and (fresh / "data/processed/split/test").is_dir()
    assert json.loads(dvc(fresh, "metrics", "show", "--json")) == metrics
    assert "Data and pipelines are up to date" in dvc(fresh, "repro")

    registry = tmp_path / "registry"  # the model registry entries (dvc.yaml artifacts), as a user downloads them
    registry.mkdir()
    run(origin, "gto", "register", "star-recognizer", "--version", "v1.0.0")
    run(origin, "gto", "register", "star-recognizer-exports", "--version", "v1.0.0")
    dvc(registry, "artifacts", "get", str(origin), "star-recognizer", "-o", "model.keras")
    assert (registry / "model.keras").read_bytes() == (origin / "models/model.keras").read_bytes()
    dvc(registry, "artifacts", "get", str(origin), "star-recognizer-exports", "-o", "export")
    exports = sorted(path.name for path in (registry / "export").iterdir())
    assert exports == ["model.onnx", "model.tflite", "saved_model", "starrec.json"]
    assert load_classifier(registry / "export" / "model.onnx").info.classes == ["class_0", "class_1", "class_2"]

    restored = tmp_path / "restored"  # no dvc.lock: every stage comes back from the shared run-cache
    run(tmp_path, "git", "clone", "-q", str(origin), str(restored))
    (restored / "dvc.lock").unlink()
    output = dvc(restored, "repro", "--pull")  # fetches the run-cache and the outputs it names
    ran = stages_run(output)
    stages = yaml.safe_load((restored / "dvc.yaml").read_text())["stages"]
    in_git = {name for name, stage in stages.items() for out in stage.get("outs", []) if isinstance(out, dict)}
    cached = set(dvc(restored, "stage", "list", "--name-only").split()) - in_git - {"check_params"}
    assert cached == {"download", "convert", "augment", "fold@0", "fold@1", "card"}  # only DVC-cached outputs
    # the run-cache gives back every cached stage but card, whose inputs train_machine.json (training time) and
    # export.json (latency) are measured anew when train and export run again, as the stages of git's metrics do
    assert output.count("is cached - skipping run") == len(cached - {"card"})
    assert ran == {"check_params", "card"} | in_git, output
    assert json.loads(dvc(restored, "metrics", "show", "--json")) == metrics  # to the same numbers


def test_folds_trained_on_two_machines_are_collected_through_the_shared_remote(repo, tmp_path, s3_server):
    repo, _ = repo
    endpoint, dvc = s3_server

    origin = tmp_path / "origin.git"
    run(tmp_path, "git", "clone", "-q", "--bare", str(repo), str(origin))
    machines = []
    for name in ("one", "two", "collector"):
        run(tmp_path, "git", "clone", "-q", str(origin), str(tmp_path / name))
        dvc(tmp_path / name, "remote", "add", "-d", "--local", "shared", "s3://starrec/folds")
        dvc(tmp_path / name, "remote", "modify", "--local", "shared", "endpointurl", endpoint)
        machines.append(tmp_path / name)
    one, two, collector = machines
    ran_one = dvc(one, "repro", "--pull", "fold@0")  # computes the data stages and fold 0
    dvc(one, "push", "--run-cache")
    ran_two = dvc(two, "repro", "--pull", "fold@1")  # data stages from the run-cache, computes fold 1
    dvc(two, "push", "--run-cache")
    ran = {name: stages_run(output) for name, output in (("one", ran_one), ("two", ran_two))}
    assert ran["one"] == {"download", "convert", "split", "fold@0"}  # the data stages and fold 0
    assert ran["two"] == {"fold@1"}  # the data stages came from one, through the remote
    dvc(collector, "pull", "fold@0", "fold@1")  # both parts from the remote
    collected = dvc(collector, "repro", "--force", "--single-item", "kfold")  # git has kfold.json: collect it anew
    assert stages_run(collected) == {"kfold"}, collected  # only collected here
    committed = subprocess.run(["git", "show", "HEAD:dvc.lock"], cwd=repo, capture_output=True, text=True, check=True)
    serial = yaml.safe_load(committed.stdout)["stages"]["kfold"]["outs"][0]["md5"]
    assert hashlib.md5((collector / "metrics/kfold.json").read_bytes()).hexdigest() == serial
