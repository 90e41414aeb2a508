"""Where each stage reads and writes (relative to the repository root; mirrors dvc.yaml)."""

from pathlib import Path

PARAMS = Path("params.yaml")
RAW = Path("data/raw")
INTERIM = Path("data/interim")
RECORDS = INTERIM / "records"
MANIFEST = INTERIM / "manifest.csv"
SPLIT = Path("data/processed/split")
TRAIN_SPLIT, VAL_SPLIT, TEST_SPLIT = SPLIT / "train", SPLIT / "val", SPLIT / "test"
AUGMENTED = Path("data/processed/augmented")
AUGMENTED_TRAIN = AUGMENTED / "train"
NORMALIZATION = AUGMENTED / "normalization.json"
MODEL = Path("models/model.keras")
EXPORT = Path("models/export")  # saved_model/, model.onnx, model.tflite, starrec.json
MODEL_CARD = Path("models/model_card.md")
METRICS = Path("metrics")
TRAIN_LIVE = METRICS / "train"
TRAIN_MACHINE = METRICS / "train_machine.json"  # the CPU and precision of the training (starrec summary)
TRAIN_LIVE_PARTIAL = Path(".backup/live/train")  # dvclive's files while train runs (moved to TRAIN_LIVE at its end)
SPLIT_COUNTS = METRICS / "split_counts.json"
KFOLD = METRICS / "kfold.json"
KFOLD_PARTS = Path("data/kfold")  # part-<p>.json: the folds of stage fold@<p>
TEST = METRICS / "test.json"
PER_CLASS = METRICS / "per_class.json"
CALIBRATION = METRICS / "calibration.json"  # ECE and NLL as served and at T = 1, with intervals
BASELINE = METRICS / "baseline.json"
EXPORT_CHECK = METRICS / "export.json"
PLOTS = METRICS / "plots"
PREDICTIONS = METRICS / "predictions.csv"
TUNE = METRICS / "tune.json"
TUNE_PLOTS = METRICS / "tune"  # history.json (trial by trial), importance.json (each searched param's)
LEARNING_CURVE = METRICS / "learning_curve.json"
LEARNING_CURVE_PLOT = METRICS / "learning_curve" / "points.json"
VISUALS = Path("visuals")
VISUAL_RANGES = METRICS / "visual_ranges.json"  # min and max of each conv layer's activations and gradients
TENSORBOARD = Path("logs")
BACKUPS = Path(".backup")  # per-epoch backups of unfinished runs (git- and DVC-ignored)
TUNE_STUDY = BACKUPS / "tune"  # the search's Optuna journal (tune.storage null) and its trials' finished folds
SCIKIT_LEARN_DATA = Path(".cache/scikit_learn_data")  # LFW, per checkout: no two experiments share it
