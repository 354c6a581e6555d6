"""The ``swiss-ner`` command line: one subcommand per task, so new ones (``train``, ...) slot in.

Each subcommand registers itself with ``add_<name>_parser(subparsers)`` and sets ``handler``, a
function that takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

MODEL_ENV = "SWISS_NER_MODEL"

TAG_EXAMPLES = f"""\
examples:
  swiss-ner tag "traf Vertreter der Credit Suisse." --model outputs/xlmr-panx-ch
  swiss-ner tag "Le Conseil fédéral siège à Berne." "Roger Federer vive a Lugano." --model ORG/REPO
  echo "Nestlé hat seinen Sitz in Vevey." | swiss-ner tag --model outputs/xlmr-panx-ch
  swiss-ner tag --file news.txt --file more.txt --json --model outputs/xlmr-panx-ch > ents.jsonl

TEXT "-" or no TEXT and no --file reads stdin, one text per line. Offsets are character offsets
into each text: text[start:end] is the entity. Set {MODEL_ENV} to skip --model.
"""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="swiss-ner",
        description="Named-entity tagging (PER, ORG, LOC) of German, French, Italian and English "
        "text with a fine-tuned XLM-RoBERTa model.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_tag_parser(subparsers)
    return parser


def add_tag_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``swiss-ner tag``."""
    parser = subparsers.add_parser(
        "tag",
        help="tag entities in raw text",
        description="Tag PER, ORG and LOC entities in raw text. Text is split into words the way "
        "the PAN-X training data is (punctuation apart), so entities come without trailing "
        "periods or commas.",
        epilog=TAG_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help='texts to tag; "-" reads stdin')
    parser.add_argument(
        "--model",
        default=os.environ.get(MODEL_ENV),
        required=not os.environ.get(MODEL_ENV),
        help=f"local model folder or Hugging Face Hub repo id (default: ${MODEL_ENV})",
    )
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="file with one text per line (blank lines skipped); may be repeated",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per text")
    parser.add_argument(
        "--batch-size", type=int, default=32, help="windows per forward pass (default: 32)"
    )
    parser.add_argument(
        "--device", default=None, help='torch device such as "cpu" or "cuda:0" (default: auto)'
    )
    parser.set_defaults(handler=run_tag)
    return parser


def _lines(handle: TextIO) -> list[str]:
    return [line.rstrip("\r\n") for line in handle if line.strip()]


def collect_texts(texts: Sequence[str], files: Sequence[str], stdin: TextIO) -> list[str]:
    """The texts in command-line order: arguments, then files; stdin for "-" or when none given."""
    collected: list[str] = []
    for text in texts:
        collected.extend(_lines(stdin) if text == "-" else [text])
    for path in files:
        with open(path, encoding="utf-8") as handle:
            collected.extend(_lines(handle))
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


def run_tag(args: argparse.Namespace) -> int:
    """Load the model, tag every text and print a table or JSON line per text."""
    from swiss_ner.inference import ModelLoadError, NerTagger

    try:
        texts = collect_texts(args.texts, args.file, sys.stdin)
    except OSError as error:
        print(f"swiss-ner: error: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        tagger = NerTagger.from_pretrained(
            args.model, device=args.device, batch_size=args.batch_size
        )
    except (ModelLoadError, RuntimeError, ValueError) as error:
        print(f"swiss-ner: error: {error}", file=sys.stderr)
        return 2
    results = tagger.tag(texts)
    for number, (text, entities) in enumerate(zip(texts, results, strict=True)):
        if args.json:
            print(to_json(text, entities))
        else:
            if number:
                print()
            print(format_table(text, entities))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``swiss-ner`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
