"""``swiss-ner demo``: serve the demo Space's Gradio page locally, with the card's sentences."""

from __future__ import annotations

import socket
from pathlib import Path

from swiss_ner.config import DemoConfig


def check_model(model: str) -> None:
    """Refuse a missing local folder as ``tag`` does, before Gradio reads it as a Hub id."""
    from swiss_ner.config import is_hub_model_id

    folder = Path(model).expanduser()
    if not folder.is_dir() and not is_hub_model_id(model):
        raise FileNotFoundError(f"model folder {model!r} does not exist")
    if folder.is_dir() and not (folder / "config.json").is_file():
        raise FileNotFoundError(f"model folder {model!r} has no config.json")


def check_address(host: str, port: int) -> None:
    """Resolve and bind ``host:port`` once, so that a bad address is named as such rather than
    as Gradio's "Cannot find empty port"."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise OSError(f"--host {host!r} cannot be resolved: {error.strerror}") from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise OSError(
                f"cannot serve on --host {host} --port {port}: {error.strerror or error}"
            ) from None


def run(config: DemoConfig) -> int:
    """Serve the demo of ``config.model`` until interrupted."""
    check_model(config.model)
    check_address(config.host, config.port)
    from swiss_ner.demo import card_examples, launch_demo

    launch_demo(config.model, card_examples(config.model), host=config.host, port=config.port)
    return 0
