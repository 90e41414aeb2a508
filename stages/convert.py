"""Stage convert: data/raw -> RGB TFRecords, manifest.csv, classes.json, rejected.csv."""

from starrec import artifacts
from starrec.atomic import atomic_path
from starrec.data.convert import ingest, summary
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    params = load_params(artifacts.PARAMS)
    with atomic_path(artifacts.INTERIM) as interim:
        result = ingest(artifacts.RAW, params.data, params.faces, params.image.size, interim, params.image.shard_size)
    print(summary(result))


if __name__ == "__main__":
    run_stage(main)
