"""``swiss-ner train``: fine-tune, evaluate, save and (optionally) push; the loop prints its own
progress through accelerate, so only the main process talks."""

from __future__ import annotations

import signal

from swiss_ner.config import TrainConfig


def run(config: TrainConfig) -> int:
    """Train; a run that cannot be right raises, and the command line turns that into one line."""
    from swiss_ner.training import train

    train(config)
    # The run is saved and complete: a SIGTERM while the process closes must not turn it into 143.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0
