"""Stage download: data.source -> data/raw/<class>/<image files>."""

from starrec import paths
from starrec.atomic import atomic_path
from starrec.params import load_params
from starrec.sources import fetch_source
from starrec.stage import run_stage


def main() -> None:
    params = load_params(paths.PARAMS)
    with atomic_path(paths.RAW) as raw:
        skipped = fetch_source(params.data, params.seed, raw)
        classes = sorted(p.name for p in raw.iterdir() if p.is_dir())
    for path in skipped:
        print(f"skipped (symlink outside the source folder): {path}")
    print(f"download: {len(classes)} class folders from {params.data.source!r} in {paths.RAW}")


if __name__ == "__main__":
    run_stage(main)
