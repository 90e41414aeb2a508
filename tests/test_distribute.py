"""train.distribute: real worker processes on 127.0.0.1 and two logical CPU devices train with the
one loop of starrec.train.training.fit, as one process would (issue #13)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.project import free_port

pytestmark = pytest.mark.slow  # real processes, services or conversions: make test, not make test-fast

WORKER = Path(__file__).parent / "distributed_worker.py"
EPOCHS = 3


def start(mode: str, epochs: int, out: Path, tf_config: dict | None = None, **settings: str) -> subprocess.Popen:
    env = {**os.environ, "DROPOUT": "0", **settings}
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    log = open(out.with_suffix(".log"), "w")  # noqa: SIM115 - the process writes it until it ends
    return subprocess.Popen(
        [sys.executable, WORKER, mode, str(epochs), out], env=env, stdout=log, stderr=log, text=True
    )


def start_cluster(tmp_path: Path, epochs: int, **settings: str) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    return [
        start(
            "multi_worker",
            epochs,
            tmp_path / f"worker{index}.npz",
            {"cluster": cluster, "task": {"type": "worker", "index": index}},
            **settings,
        )
        for index in range(2)
    ]


def weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as saved:
        return [saved[name] for name in sorted(saved.files, key=lambda n: (len(n), n)) if name.startswith("w")]


def history(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as saved:
        return {name[2:]: saved[name] for name in saved.files if name.startswith("h_")}


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("none") / "none.npz"
    assert start("none", EPOCHS, out).wait(timeout=300) == 0, out.with_suffix(".log").read_text()
    return out


def test_two_workers_end_with_identical_weights_equal_to_one_process(tmp_path, single_process):
    workers = start_cluster(tmp_path, epochs=EPOCHS)
    for number, worker in enumerate(workers):
        assert worker.wait(timeout=300) == 0, (tmp_path / f"worker{number}.log").read_text()
    chief, other = weights(tmp_path / "worker0.npz"), weights(tmp_path / "worker1.npz")
    assert all(np.array_equal(a, b) for a, b in zip(chief, other, strict=True))
    # the global batch is train.batch_size: the same gradients as one process, up to float rounding
    for a, b in zip(chief, weights(single_process), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert history(tmp_path / "worker0.npz").keys() == history(single_process).keys()
    assert "on 2 replica(s)" in (tmp_path / "worker0.log").read_text()


def test_mirrored_on_two_logical_cpu_devices_equals_one_process(tmp_path, single_process):
    process = start("mirrored2", EPOCHS, tmp_path / "mirrored.npz")
    assert process.wait(timeout=300) == 0, (tmp_path / "mirrored.log").read_text()
    assert "on 2 replica(s)" in (tmp_path / "mirrored.log").read_text()
    for a, b in zip(weights(tmp_path / "mirrored.npz"), weights(single_process), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_killed_cluster_resumes_from_the_chiefs_backup_on_every_worker(tmp_path, single_process):
    settings = {"BACKUP": str(tmp_path / "backup")}
    first = start_cluster(tmp_path, epochs=EPOCHS, CRASH_AFTER="1", **settings)  # the chief dies after epoch 2
    assert [worker.wait(timeout=300) != 0 for worker in first] == [True, True]
    assert (tmp_path / "backup" / "backup.npz").is_file()
    for worker in start_cluster(tmp_path, epochs=EPOCHS, **settings):
        assert worker.wait(timeout=300) == 0, (tmp_path / "worker1.log").read_text()
    assert "resuming after epoch 2" in (tmp_path / "worker0.log").read_text()
    chief, other = weights(tmp_path / "worker0.npz"), weights(tmp_path / "worker1.npz")
    assert all(
        np.array_equal(a, b) for a, b in zip(chief, other, strict=True)
    )  # the other worker took the chief's state
    for a, b in zip(chief, weights(single_process), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_worker_that_dies_stops_the_other_with_a_clear_message(tmp_path):
    chief, other = start_cluster(tmp_path, epochs=100_000)
    log = tmp_path / "worker1.log"
    deadline = time.monotonic() + 120
    while "epoch 3/" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    other.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    returncode = chief.wait(timeout=120)
    assert returncode != 0 and time.monotonic() - killed < 60
    assert (
        "lost contact with /job:worker/replica:0/task:1; every worker stops" in (tmp_path / "worker0.log").read_text()
    )


def test_multi_worker_without_tf_config_says_what_to_set(monkeypatch):
    from starrec.train.distribute import DistributeError, make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DistributeError, match="train.distribute is multi_worker but TF_CONFIG is not set"):
        make_strategy("multi_worker")
