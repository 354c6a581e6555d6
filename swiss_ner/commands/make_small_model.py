"""``swiss-ner make-small-model``: a small XLM-R-architecture model from scratch."""

from __future__ import annotations

from swiss_ner.config import SmallModelConfig


def run(config: SmallModelConfig) -> int:
    """Build the model and print where it is."""
    from swiss_ner.small_model import make_small_model

    print(f"Model folder: {make_small_model(config)}")
    return 0
