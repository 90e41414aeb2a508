"""How a stage ends: the project's own errors in one line, bugs with a traceback, no temporary
output left behind by a kill (issue #12, items 4, 11, 14 and 15)."""

import os
import resource
import signal
import subprocess
import sys

import pytest

from starrec.atomic import atomic_path
from starrec.data.records import shard_files
from starrec.errors import MissingInput
from starrec.params import ParamsError, parse_params

STAGE = """
import gc, sys, time
from pathlib import Path
from starrec.atomic import atomic_path
from starrec.errors import StarrecError
from starrec.stage import run_stage

class Cycle:
    pass

def main():
    kind = sys.argv[1]
    if kind == "freeze":
        cycle = Cycle()
        cycle.itself = cycle
        del cycle
        print(gc.get_freeze_count() > 0, gc.collect() > 0)
        return
    if kind == "user":
        raise StarrecError("data.source: folder /nope does not exist")
    if kind == "bug":
        open("/nonexistent/file")
    if kind == "big":
        with atomic_path(Path("out") / "big") as temporary:
            temporary.write_bytes(bytes(200_000))
    with atomic_path(Path("out") / "result") as temporary:
        temporary.mkdir()
        (temporary / "part").write_text("half")
        print("writing", flush=True)
        time.sleep(60)

run_stage(main)
"""


def run_stage_script(tmp_path, kind, max_file_bytes=None):
    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run(
        [sys.executable, "-c", STAGE, kind],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size if max_file_bytes else None,
    )


def test_a_users_error_is_one_line_and_a_bug_keeps_its_traceback(tmp_path):
    user = run_stage_script(tmp_path, "user")
    assert user.returncode == 1
    assert user.stderr == "error: data.source: folder /nope does not exist\n"
    bug = run_stage_script(tmp_path, "bug")
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "/nonexistent/file" in bug.stderr


def test_what_the_imports_made_is_frozen_and_what_the_stage_makes_is_collected(tmp_path):
    stage = run_stage_script(tmp_path, "freeze")
    assert stage.stdout == "True True\n"  # the collection at exit skips TensorFlow's objects (~0.8 s a stage)


def test_a_full_disk_or_too_large_file_is_one_line_naming_the_path_and_leaves_nothing(tmp_path):
    big = run_stage_script(tmp_path, "big", max_file_bytes=100_000)
    assert big.returncode == 1
    assert big.stderr == "error: out/big: File too large\n"
    assert os.listdir(tmp_path / "out") == []


def test_a_missing_input_is_the_projects_error(tmp_path):
    with pytest.raises(MissingInput, match="no TFRecord shards"):
        shard_files(tmp_path)


def test_a_terminated_stage_removes_its_temporary_output(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", STAGE, "slow"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0
    assert os.listdir(tmp_path / "out") == []


def test_leftovers_of_a_killed_run_are_removed_at_the_next(tmp_path):
    (tmp_path / ".result.abc123.tmp" / "result").mkdir(parents=True)
    with atomic_path(tmp_path / "result") as temporary:
        temporary.write_text("done")
    assert os.listdir(tmp_path) == ["result"]


def test_more_pooling_blocks_than_the_image_allows_is_refused_at_load_time():
    with pytest.raises(ParamsError, match=r"model.conv_filters: 4 conv \+ max-pool blocks halve image.size = 8"):
        parse_params({"image": {"size": 8}, "model": {"conv_filters": [4, 4, 4, 4]}})
    parse_params({"image": {"size": 8}, "model": {"conv_filters": [4, 4, 4]}})


def test_a_missing_cascade_file_is_refused_at_load_time():
    with pytest.raises(ParamsError, match="faces.cascade: no such cascade 'nope.xml'"):
        parse_params({"faces": {"detect": True, "cascade": "nope.xml"}})
    parse_params({"faces": {"detect": False, "cascade": "nope.xml"}})  # not used, not checked
