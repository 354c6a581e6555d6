"""``swiss-ner serve``: load a tagger and serve it over HTTP until SIGTERM or Ctrl-C."""

from __future__ import annotations

import functools
import os
import signal
import socket

from swiss_ner.config import ServeConfig


def load_tagger(config: ServeConfig):
    """The tagger the service runs, built from the command's options and warmed up; it runs in
    the model's process (:mod:`swiss_ner.serving.worker`).

    Its tokenizer runs without a thread pool unless ``TOKENIZERS_PARALLELISM`` says otherwise: a
    served batch is a few dozen sentences, whose pool costs more than it saves while the HTTP
    process and the forward pass's threads share the cores (2 cores, 32 sentences: 1.1 against
    1.6-2.0 ms; p99 at 32 clients 9.0-9.3x the lone p50 against 11.1x with the pool, in
    bench/serve_load.py runs of 2026-12-07).
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers.utils import logging as transformers_logging

    from swiss_ner.inference import NerTagger

    transformers_logging.disable_progress_bar()
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    # A served batch holds sentences of mixed lengths, which the tagger packs into rows: on a
    # CPU one forward pass for all of it is fastest (2 cores, 32 unsorted sentences: 47 ms in
    # one pass, 63 ms in passes of 16).
    batch_size = config.batch_size or (config.max_batch_size if device == "cpu" else None)
    tagger = NerTagger.from_pretrained(
        config.model, device=device, batch_size=batch_size, quantize=config.quantize,
        dtype=config.dtype, compile=config.compile,
    )
    tagger.warm_up()  # first calls are slow (compiling, with --compile); not a client's
    return tagger


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, so that the port is known (also for port
    0) before the server starts, and connections made meanwhile wait in the backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} (--host, --port): "
                      f"{error.strerror or error}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _ignore(signum, frame) -> None:
    """Uvicorn raises the signal again once it has stopped gracefully; that is not an error."""


def run(config: ServeConfig) -> int:
    """Load the model, then serve until SIGTERM: new connections are refused, accepted requests
    are answered (for up to --shutdown-timeout seconds), and the exit status is 0."""
    try:
        import uvicorn

        from swiss_ner.serving.app import create_app, token_counter
        from swiss_ner.serving.worker import TaggerProcess
    except ImportError as error:
        raise RuntimeError(f"swiss-ner serve needs the serve extra ({error.name} is missing): "
                           "pip install 'swiss-ner[serve]'") from None
    sock = listen(config.host, config.port)  # a taken port fails before the model loads
    tagger = TaggerProcess(functools.partial(load_tagger, config))
    try:
        tagger.start()
        app = create_app(tagger.tag, config, cost=token_counter(tagger.tokenizer_json))
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                access_log=False,  # the app logs one line per request, without the texts
                timeout_graceful_shutdown=config.shutdown_timeout,
                log_level="info",
            )
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        key = "a Bearer key" if config.api_key else "no key"
        print(f"serving {config.model} on http://{shown}:{port} (POST /, GET /health; {key}); "
              "SIGTERM or Ctrl-C stops", flush=True)
        previous = signal.signal(signal.SIGTERM, _ignore)
        try:
            server.run(sockets=[sock])
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        tagger.close()
        sock.close()
    if not server.started:
        raise RuntimeError("the server did not start; see the log above")
    print("stopped", flush=True)
    return 0
