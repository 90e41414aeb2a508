"""params.yaml is validated before any work; errors name the key and the allowed values."""

import dataclasses
import re
import typing

import pytest
import yaml

from helpers.project import ROOT
from starrec.params import Params, ParamsError, load_params, moved_keys_notes, parse_params, render_params_yaml


def test_the_defaults_are_the_lecture_split_on_the_offline_digits():
    params = Params()
    assert (params.split.train, params.split.val, params.split.test) == (0.6, 0.2, 0.2)
    assert params.data.source == "digits"


def test_the_rendered_schema_reads_back_as_the_defaults():
    assert parse_params(yaml.safe_load(render_params_yaml())) == Params()


def layout(text: str) -> list[tuple[int, str, str]]:
    """(indent, key, help comment) of every ``key: ...  # help`` line: what stays when DVC rewrites values."""
    rows = []
    for line in text.splitlines():
        match = re.match(r"^( *)([A-Za-z_0-9]+):.*?#\s*(.*)$", line)
        if match:
            rows.append((len(match[1]), match[2], match[3].strip()))
    return rows


def test_params_yaml_has_the_schemas_keys_and_help_whatever_its_values():
    """params.yaml is the schema rendered (`starrec params > params.yaml`); its values are the user's
    (`dvc exp run -S`, `dvc exp apply`, their own data.source), so only keys and help are compared."""
    assert layout((ROOT / "params.yaml").read_text(encoding="utf-8")) == layout(render_params_yaml()), (
        "params.yaml's keys or comments differ from src/starrec/params.py: `starrec params > params.yaml`"
    )


@pytest.mark.parametrize(
    "override, changed",
    [("train.momentum=0.5", 1), ("train.momentum_schedule.end=0.5", 1), ("model.conv_filters=[16,64]", 1)],
)
def test_an_experiment_changes_only_the_lines_of_its_values(tmp_path, override, changed):
    """params.yaml is written as `dvc exp run -S` rewrites it (DVC's own code here: `null` as nothing, lists
    as block lists), so an experiment's git diff is the lines whose values it changed."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    path.write_text(render_params_yaml(), encoding="utf-8")
    apply_overrides(path, [override])
    before, after = render_params_yaml().splitlines(), path.read_text(encoding="utf-8").splitlines()
    assert len(before) == len(after) and sum(a != b for a, b in zip(before, after, strict=True)) == changed
    assert layout(path.read_text(encoding="utf-8")) == layout(render_params_yaml())


@pytest.mark.parametrize("key", ["train.epochs", "kfold.k", "data.synthetic_per_class", "baseline.pca_components"])
def test_counts_have_an_upper_bound(key):
    section, name = key.split(".")
    with pytest.raises(ParamsError, match=rf"{key}: 100000000000000000000 is out of range"):
        parse_params({section: {name: 10**20}})


def test_every_integer_param_is_bounded_above():
    hints = {}

    def collect(cls, prefix=""):
        for name, hint in typing.get_type_hints(cls).items():
            if dataclasses.is_dataclass(hint):
                collect(hint, f"{prefix}{name}.")
            else:
                hints[f"{prefix}{name}"] = (hint, next(f for f in dataclasses.fields(cls) if f.name == name))

    collect(Params)
    unbounded = [
        key
        for key, (hint, spec) in hints.items()
        if "int" in str(hint) and "bool" not in str(hint) and spec.metadata["range"].high is None
    ]
    assert not unbounded


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused(value):
    with pytest.raises(ParamsError, match="train.learning_rate: .*allowed: a finite number"):
        parse_params({"train": {"learning_rate": value}})


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"train": {"momentun": 0.5}}, "train.momentun: unknown key (did you mean train.momentum?)"),
        ({"split": {"train": 0.7, "val": 0.2, "test": 0.2}}, "they must sum to 1"),
        ({"kfold": {"k": 1}}, "kfold.k: 1 is out of range; allowed: [2, 1000000]"),
        ({"train": {"momentum": 1.0}}, "train.momentum: 1.0 is out of range; allowed: [0.0, 1.0)"),
        ({"train": {"learning_rate": -0.1}}, "train.learning_rate: -0.1 is out of range"),
        ({"train": {"batch_size": "fulll"}}, "train.batch_size: 'fulll'; allowed: a positive integer or full"),
        ({"train": {"epochs": "ten"}}, "train.epochs: 'ten'; allowed: an integer"),
        ({"augment": {"contrast": [2, 1]}}, "augment.contrast"),
        ({"faces": {"multiple": "some"}}, "allowed: largest, all"),
        ({"colour": 1}, "colour: unknown key"),
        ({"model": {"conv_filters": [8, 0]}}, "model.conv_filters: 0 is out of range; allowed: [1, 4096]"),
        ({"split": {"train": 0.0, "val": 0.5, "test": 0.5}}, "split.train: 0.0 is out of range; allowed: (0.0, 1.0]"),
    ],
)
def test_bad_params_name_the_key(raw, message):
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert message in str(error.value)


def test_integers_are_accepted_for_floats_and_full_batch():
    params = parse_params({"train": {"learning_rate": 1, "batch_size": "full"}, "augment": {"contrast": [1, 4]}})
    assert params.train.learning_rate == 1.0 and params.train.batch_size == "full"
    assert params.augment.contrast == [1.0, 4.0]


def test_load_params_reports_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"train": {"momentum": 0.5}}))
    assert load_params(tmp_path / "params.yaml").train.momentum == 0.5


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "must be a mapping of sections to values"),  # DVC: Could not find 'kfold.parts'
        ("# only a comment\n", "must be a mapping of sections to values"),
        ("train:\n  epochs: 2\ntrain:\n  epochs: 3\n", "'train' appears twice"),  # DVC: structure is corrupted
        ("train:\n  epochs: 2\n  epochs: 3\n", "'epochs' appears twice"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not text"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_a_params_file_dvc_cannot_read_is_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "params.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ParamsError, match=message) as error:
        load_params(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_a_params_path_that_is_a_directory_is_refused_in_one_line(tmp_path):
    with pytest.raises(ParamsError, match="a directory, not a params file"):
        load_params(tmp_path)


def test_keys_that_moved_to_runtime_are_read_there_with_a_note(tmp_path):
    """starrec 0.2's train.backup_every_s, train.cache and train.tensorboard are runtime.* now (they re-run no
    stage); an old params.yaml still works for a release, and check_params says where each key went."""
    old = {"train": {"epochs": 3, "cache": "none", "backup_every_s": 5}, "runtime": {"backup_every_s": 9}}
    params = parse_params(old)
    assert params.runtime.cache == "none" and params.runtime.backup_every_s == 9  # the new place wins
    assert params.train.epochs == 3 and old["train"]["cache"] == "none"  # the caller's mapping is left alone
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"train": {"tensorboard": True}, "runtime": None}))
    assert load_params(tmp_path / "params.yaml").runtime.tensorboard is True
    assert moved_keys_notes(tmp_path / "params.yaml") == [
        "train.tensorboard is now runtime.tensorboard (it re-runs no stage); move it in params.yaml"
    ]


@pytest.mark.parametrize("text, value", [("1e-3", 1e-3), ("1.0e-2", 1e-2), ("2E-2", 2e-2), ("+1.5e-2", 1.5e-2)])
def test_floats_read_as_dvc_reads_them(tmp_path, text, value):
    """YAML 1.2 (DVC's ruamel.yaml) reads 1e-3 as a number; PyYAML's YAML 1.1 read it as text: "not a number"."""
    path = tmp_path / "params.yaml"
    path.write_text(f"train:\n  learning_rate: {text}\n  lr_decay_rate: 1.0e-300\n", encoding="utf-8")
    params = load_params(path)
    assert params.train.learning_rate == value and params.train.lr_decay_rate == 1e-300
    assert yaml.safe_load("x: 1e-3")["x"] == "1e-3"  # PyYAML's own loader is left as it is


def test_a_validation_split_of_zero_is_refused_by_the_params_check():
    """split.val: 0 passed check_params and split, then failed in train with "no TFRecord shards"."""
    with pytest.raises(ParamsError, match=r"^params.yaml: split.val: 0; the train stage fits the temperature"):
        parse_params({"split": {"train": 0.8, "val": 0.0, "test": 0.2}})
