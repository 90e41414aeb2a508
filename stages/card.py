"""Stage card: the model card of this run -> models/model_card.md (Hugging Face front-matter, intended use,
how to use, data, scores with their intervals and the baselines, weakest classes, limits, provenance, consent)."""

from starrec import artifacts
from starrec.atomic import atomic_path
from starrec.params import load_params
from starrec.ship.card import model_card, provenance, read_run
from starrec.stage import run_stage


def main() -> None:
    params = load_params(artifacts.PARAMS)
    card = model_card(
        read_run(artifacts.MODEL),
        params.data,
        params.faces,
        image_size=params.image.size,
        augment=params.augment,
        model=params.model,
        train=params.train,
        origin=provenance(),
    )
    with atomic_path(artifacts.MODEL_CARD) as path:
        path.write_text(card, encoding="utf-8")
    print(f"card: {artifacts.MODEL_CARD}")


if __name__ == "__main__":
    run_stage(main)
