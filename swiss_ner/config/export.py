"""The configuration of ``swiss-ner export``: a trained tagger as an ONNX Runtime folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from swiss_ner.config.fields import MODEL_ENV, ConfigError, option


@dataclass
class ExportConfig:
    """Export a trained tagger to ONNX, optionally with int8 weights."""

    onnx: str = field(
        metadata=option(
            "Folder to write the ONNX file, tokenizer and config.json into (created if missing).",
            required=True,
            metavar="OUT",
        )
    )
    model: str | None = field(
        default_factory=lambda: os.environ.get(MODEL_ENV),
        metadata=option(f"Local model folder or Hub repo id (default: ${MODEL_ENV})."),
    )
    quantize: bool = field(
        default=False,
        metadata=option(
            "int8 weights for the matrix products (ONNX Runtime's dynamic quantisation); "
            "writes model_quantized.onnx instead of model.onnx."
        ),
    )

    def validate(self) -> None:
        if not self.model:
            raise ConfigError(f"--model is required (or set {MODEL_ENV})")
        if not self.onnx.strip():
            raise ConfigError("--onnx needs a folder to write into")
