"""``swiss-ner tag``: tag raw text from arguments, files or stdin, and print a table or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from swiss_ner.config import TagConfig


def _lines(handle: TextIO) -> list[str]:
    return [line.rstrip("\r\n") for line in handle if line.strip()]


def collect_texts(texts: Sequence[str], files: Sequence[str], stdin: TextIO) -> list[str]:
    """The texts in command-line order: arguments, then files; stdin for "-" or when none given."""
    from swiss_ner.inference import read_text_lines

    collected: list[str] = []
    for text in texts:
        collected.extend(_lines(stdin) if text == "-" else [text])
    for path in files:
        try:
            collected.extend(read_text_lines(path))
        except OSError as error:
            raise OSError(f"cannot read {path}: {error.strerror or error}") from None
    if not texts and not files:
        if stdin.isatty():
            print("Reading texts from stdin, one per line (Ctrl-D to end).", file=sys.stderr)
        collected.extend(_lines(stdin))
    return collected


def format_table(text: str, entities: Iterable) -> str:
    """A plain-text table of one text's entities."""
    rows = [(e.text, e.type, f"{e.score:.3f}", str(e.start), str(e.end)) for e in entities]
    lines = [f"text: {text}"]
    if not rows:
        lines.append("  (no entities)")
        return "\n".join(lines)
    header = ("ENTITY", "TYPE", "SCORE", "START", "END")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def to_json(text: str, entities: Iterable) -> str:
    """One JSON line: ``{"text": ..., "entities": [{"text", "type", "score", "start", "end"}]}``."""
    return json.dumps(
        {
            "text": text,
            "entities": [
                {
                    "text": e.text,
                    "type": e.type,
                    "score": round(e.score, 4),
                    "start": e.start,
                    "end": e.end,
                }
                for e in entities
            ],
        },
        ensure_ascii=False,
    )


def run(config: TagConfig) -> int:
    """Load the model, tag every text and print a table or a JSON line per text."""
    from transformers.utils import logging as transformers_logging

    from swiss_ner.inference import NerTagger

    texts = collect_texts(config.texts, config.file, sys.stdin)
    transformers_logging.disable_progress_bar()
    tagger = NerTagger.from_pretrained(
        config.model, device=config.device, batch_size=config.batch_size, quantize=config.quantize
    )
    for number, (text, entities) in enumerate(zip(texts, tagger.tag(texts), strict=True)):
        if config.json:
            print(to_json(text, entities))
        else:
            if number:
                print()
            print(format_table(text, entities))
    return 0
