"""``swiss-ner export``: write a trained tagger as an ONNX folder that ONNX Runtime runs."""

from __future__ import annotations

from pathlib import Path

from swiss_ner.config.export import ExportConfig


def run(config: ExportConfig) -> int:
    """Export, then say where the file is, how large, and how to use it."""
    from transformers.utils import logging as transformers_logging

    from swiss_ner.inference.onnx_backend import export_onnx

    transformers_logging.disable_progress_bar()
    path = export_onnx(config.model, config.onnx, quantize=config.quantize)
    kind = "int8 weights" if config.quantize else "float32"
    size = Path(path).stat().st_size / 2**20
    print(f"wrote {path} ({kind}, {size:.1f} MiB) with the tokenizer and config.json")
    print(f'tag with it: NerTagger.from_pretrained("{config.onnx}", backend="onnx")')
    return 0
