"""``swiss-ner train``: fine-tune, evaluate, save and (optionally) push; the loop prints its own
progress through accelerate, so only the main process talks."""

from __future__ import annotations

from swiss_ner.config import TrainConfig


def run(config: TrainConfig) -> int:
    """Train; a run that cannot be right raises, and the command line turns that into one line."""
    from swiss_ner.training import train

    train(config)
    return 0
