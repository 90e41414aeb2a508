"""params.yaml is validated before any work; errors name the key and the allowed values."""

import pytest
import yaml

from conftest import ROOT
from starrec.params import Params, ParamsError, load_params, parse_params, render_params_yaml


def test_repository_params_are_valid_and_match_the_lecture_split():
    params = load_params(ROOT / "params.yaml")
    assert (params.split.train, params.split.val, params.split.test) == (0.6, 0.2, 0.2)
    assert params.data.source == "digits"


def test_params_yaml_is_the_schema_rendered():
    """One source of truth: defaults, help and layout of params.yaml come from params.py."""
    assert (ROOT / "params.yaml").read_text(encoding="utf-8") == render_params_yaml(), (
        "params.yaml differs from src/starrec/params.py: change the schema, then `starrec params > params.yaml`"
    )
    assert load_params(ROOT / "params.yaml") == Params()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused(value):
    with pytest.raises(ParamsError, match="train.learning_rate: .*allowed: a finite number"):
        parse_params({"train": {"learning_rate": value}})


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"train": {"momentun": 0.5}}, "train.momentun: unknown key (did you mean train.momentum?)"),
        ({"split": {"train": 0.7, "val": 0.2, "test": 0.2}}, "they must sum to 1"),
        ({"kfold": {"k": 1}}, "kfold.k: 1 is out of range; allowed: [2, inf]"),
        ({"train": {"momentum": 1.0}}, "train.momentum: 1.0 is out of range; allowed: [0.0, 1.0)"),
        ({"train": {"learning_rate": -0.1}}, "train.learning_rate: -0.1 is out of range"),
        ({"train": {"batch_size": "fulll"}}, "train.batch_size: 'fulll'; allowed: a positive integer or full"),
        ({"train": {"epochs": "ten"}}, "train.epochs: 'ten'; allowed: an integer"),
        ({"augment": {"contrast": [2, 1]}}, "augment.contrast"),
        ({"faces": {"multiple": "some"}}, "allowed: largest, all"),
        ({"colour": 1}, "colour: unknown key"),
        ({"model": {"conv_filters": [8, 0]}}, "model.conv_filters: 0 is out of range; allowed: [1, inf]"),
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
