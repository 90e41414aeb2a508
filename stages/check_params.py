"""Stage check_params: params.yaml changed, so check every key of it, not only the ones stages track.

An unknown key (``dvc exp run -S +data.sourc=x``) changes no tracked param, so
without this stage nothing would run and the typo would pass as success. A key of an earlier release that
moved (``train.cache`` is ``runtime.cache``) is read at its new place, with a note.
"""

from starrec import artifacts
from starrec.params import load_params, moved_keys_notes
from starrec.stage import run_stage


def main() -> None:
    load_params(artifacts.PARAMS)
    for note in moved_keys_notes(artifacts.PARAMS):
        print(f"check_params: note: {note}")
    print(f"check_params: every key of {artifacts.PARAMS} is known and valid")


if __name__ == "__main__":
    run_stage(main)
