"""The configuration of ``swiss-ner serve``: the HTTP service, its batching and its limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from swiss_ner.config.fields import (
    MODEL_ENV,
    ConfigError,
    at_least,
    check_tagger_options,
    compile_option,
    dtype_option,
    option,
)

API_KEY_ENV = "SWISS_NER_API_KEY"


@dataclass
class ServeConfig:
    """Serve a tagger over HTTP with the token-classification JSON of the Hugging Face
    Inference API, batching requests that arrive together."""

    model: str | None = field(
        default_factory=lambda: os.environ.get(MODEL_ENV),
        metadata=option(f"Local model folder or Hub repo id (default: ${MODEL_ENV})."),
    )
    host: str = field(
        default="127.0.0.1",
        metadata=option("Address to listen on; 0.0.0.0 opens the service to the network."),
    )
    port: int = field(default=8080, metadata=option("Port to listen on (0: any free port)."))
    max_batch_size: int = field(
        default=64, metadata=option("Most texts tagged in one batch; 1 turns batching off.")
    )
    max_batch_wait_ms: float = field(
        default=2.0,
        metadata=option("How long a batch waits for more requests after its first, in ms."),
    )
    max_batch_tokens: int = field(
        default=8192, metadata=option("Most sub-word tokens in one batch (one text may exceed it).")
    )
    max_queue: int = field(
        default=256,
        metadata=option("Requests that may wait for the model; beyond, 503 with Retry-After."),
    )
    max_text_chars: int = field(
        default=10_000, metadata=option("Longest text in characters; longer ones get 413.")
    )
    max_body_bytes: int = field(
        default=1_048_576, metadata=option("Largest request body in bytes; larger ones get 413.")
    )
    # Read from the environment after parsing, so that --help never shows the key.
    api_key: str | None = field(
        default=None,
        metadata=option(
            f"Require 'Authorization: Bearer KEY' on POST / (default: ${API_KEY_ENV}, which "
            "keeps the key out of the process list; neither: no key is required)."
        ),
    )
    log_texts: bool = field(
        default=False, metadata=option("Also log the texts of each request (off: never logged).")
    )
    shutdown_timeout: float = field(
        default=30.0,
        metadata=option("Seconds SIGTERM waits for accepted requests before cancelling them."),
    )
    num_threads: int | None = field(
        default=None,
        metadata=option("Torch threads of the model's process (default: torch's, one per "
                        "core). The model runs in a process of its own, so HTTP does not "
                        "wait for it; measured on 2 cores, two threads served 32 clients at "
                        "561 requests/s against 401 with one."),
    )
    batch_size: int | None = field(
        default=None, metadata=option("Windows per forward pass (default: --max-batch-size on "
                                      "a CPU, else the tagger's default).")
    )
    device: str | None = field(default=None, metadata=option("Torch device: cpu, cuda:0, ..."))
    quantize: bool = field(default=False, metadata=option("int8 Linear layers (CPU only)."))
    dtype: str = field(default="float32", metadata=dtype_option())
    compile: bool = field(default=False, metadata=compile_option())

    def __post_init__(self) -> None:
        if self.api_key is None:
            self.api_key = os.environ.get(API_KEY_ENV) or None

    def validate(self) -> None:
        if not self.model:
            raise ConfigError(f"--model is required (or set {MODEL_ENV})")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must lie in 0..65535, got {self.port}")
        if not self.host:
            raise ConfigError("--host must not be empty")
        for name in ("max_batch_size", "max_batch_tokens", "max_queue", "max_text_chars",
                     "max_body_bytes", "batch_size", "num_threads"):
            at_least(name, getattr(self, name), 1)
        at_least("max_batch_wait_ms", self.max_batch_wait_ms, 0)
        at_least("shutdown_timeout", self.shutdown_timeout, 0)
        check_tagger_options(self.dtype, self.quantize, self.compile)
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigError("--api-key must not be blank")
