"""Stage download: data.source -> data/raw/<class>/<image files> (+ renamed.csv when names were unsafe)."""

from starrec import artifacts
from starrec.atomic import atomic_path
from starrec.data.download import download_source, write_renamed
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    params = load_params(artifacts.PARAMS)
    with atomic_path(artifacts.RAW) as raw:
        fetched = download_source(params.data, params.seed, raw)
        write_renamed(fetched, raw)
        classes = sorted(p.name for p in raw.iterdir() if p.is_dir())
    for note in fetched.notes():
        print(note)
    print(f"download: {len(classes)} class folders from {params.data.source!r} in {artifacts.RAW}")


if __name__ == "__main__":
    run_stage(main)
