"""``swiss-ner tag``: tag raw text from arguments, files or stdin, and print a table or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TextIO

from swiss_ner.config import TagConfig
from swiss_ner.inference.texts import text_lines

# Texts tagged together: enough to fill batches, few enough that output starts at once.
STREAM_CHUNK = 64


def _lines(handle: TextIO) -> Iterator[str]:
    for line in handle:
        if line.strip():
            yield line.rstrip("\r\n")


def iter_texts(texts: Sequence[str], files: Sequence[str], stdin: TextIO) -> Iterator[str]:
    """The texts in command-line order, read lazily: arguments, then files; stdin for "-" or
    when none is given."""
    for text in texts:
        if text == "-":
            yield from _lines(stdin)
        else:
            yield text
    for path in files:
        yield from text_lines(path)
    if not texts and not files:
        if stdin.isatty():
            print("Reading texts from stdin, one per line (Ctrl-D to end).", file=sys.stderr)
        yield from _lines(stdin)


def collect_texts(texts: Sequence[str], files: Sequence[str], stdin: TextIO) -> list[str]:
    """Every text of :func:`iter_texts` in a list."""
    return list(iter_texts(texts, files, stdin))


def check_files(files: Sequence[str]) -> None:
    """Fail before the model loads when a --file cannot be opened."""
    for path in files:
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise OSError(f"cannot read {path}: {error.strerror or error}") from None


def chunked(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


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
    """Load the model, then tag the texts chunk by chunk and print each chunk's table or JSON
    lines as soon as it is tagged, in input order, so memory stays that of one chunk."""
    from transformers.utils import logging as transformers_logging

    from swiss_ner.inference import NerTagger

    check_files(config.file)
    transformers_logging.disable_progress_bar()
    tagger = NerTagger.from_pretrained(
        config.model, device=config.device, batch_size=config.batch_size,
        quantize=config.quantize, dtype=config.dtype, compile=config.compile,
    )
    interactive = not config.texts and not config.file and sys.stdin.isatty()
    texts = iter_texts(config.texts, config.file, sys.stdin)
    number = 0
    for chunk in chunked(texts, 1 if interactive else STREAM_CHUNK):
        for text, entities in zip(chunk, tagger.tag(chunk), strict=True):
            if config.json:
                print(to_json(text, entities))
            else:
                if number:
                    print()
                print(format_table(text, entities))
            number += 1
        sys.stdout.flush()
    return 0
