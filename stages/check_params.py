"""Stage check_params: params.yaml changed, so check every key of it, not only the ones stages track.

An unknown key (``dvc exp run -S +data.sourc=x``) changes no tracked param, so
without this stage nothing would run and the typo would pass as success.
"""

from starrec import paths
from starrec.params import load_params
from starrec.stage import run_stage


def main() -> None:
    load_params(paths.PARAMS)
    print(f"check_params: every key of {paths.PARAMS} is known and valid")


if __name__ == "__main__":
    run_stage(main)
