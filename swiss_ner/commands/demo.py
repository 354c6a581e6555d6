"""``swiss-ner demo``: serve the demo Space's Gradio page locally, with the card's sentences."""

from __future__ import annotations

from swiss_ner.config import DemoConfig


def run(config: DemoConfig) -> int:
    """Serve the demo of ``config.model`` until interrupted."""
    from swiss_ner.demo import card_examples, launch_demo

    launch_demo(config.model, card_examples(config.model), host=config.host, port=config.port)
    return 0
