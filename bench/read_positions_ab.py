"""The tagger with its last layer at the read positions only, against the same tagger with its
last layer at every position, taking turns in one process on the same texts.

One process and alternating turns keep the machine's drift out of the ratio, which separate
processes (``infer_throughput.py``) cannot on a 2-core machine whose speed wanders by 10%.
Entities are compared on every text. The section is printed and appended to bench/RESULTS.md.

    python bench/read_positions_ab.py --model outputs/small-panx-ch --num-docs 6000 --rounds 6
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness
from corpus_throughput import build_corpus
from infer_throughput import load_sentences


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model folder to load")
    parser.add_argument("--data-dir", default=str(harness.DATA_DIR),
                        help="folder with validation-{lang}.tsv (default: %(default)s)")
    parser.add_argument("--num-docs", type=int, default=6000, help="documents (default 6000)")
    parser.add_argument("--rounds", type=int, default=6, help="turns of each (default 6)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    harness.add_results_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import json

    import torch

    from swiss_ner.inference import NerTagger

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.jsonl"
        used = build_corpus(load_sentences(args.data_dir, 10_000_000), args.num_docs, corpus)
        texts = [json.loads(line)["text"] for line in corpus.open(encoding="utf-8")]
    tagger = NerTagger.from_pretrained(args.model, device="cpu")
    tagger.warm_up()
    rates: dict[bool, list[float]] = {True: [], False: []}
    entities: dict[bool, list] = {}
    for number in range(args.rounds):
        for selected in (True, False) if number % 2 == 0 else (False, True):
            tagger.reads_selected = selected
            started = time.perf_counter()
            entities[selected] = tagger.tag(texts)
            rates[selected].append(len(texts) / (time.perf_counter() - started))
            print(f"round {number + 1}: selected={selected} {rates[selected][-1]:.1f} docs/s",
                  file=sys.stderr)
    differ = sum(
        [(e.type, e.start, e.end) for e in a] != [(e.type, e.start, e.end) for e in b]
        for a, b in zip(entities[True], entities[False], strict=True)
    )
    ratios = [a / b for a, b in zip(rates[True], rates[False], strict=True)]
    body = (
        f"| last layer | documents/s, median (range) |\n|---|---:|\n"
        f"| at the read positions (default) | {harness.with_range(rates[True], '{:.1f}')} |\n"
        f"| at every position | {harness.with_range(rates[False], '{:.1f}')} |\n\n"
        f"- {args.num_docs:,} documents ({used:,} sentences), {args.rounds} rounds taking turns "
        f"in one process, order reversed every second round\n"
        f"- read positions ÷ every position, per round: "
        f"**{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})**\n"
        f"- entities differ on {differ} of {len(texts):,} documents\n"
    )
    harness.publish(
        args, f"Last layer at the read positions: {args.model}", "bench/read_positions_ab.py",
        sys.argv[1:] if argv is None else argv, [harness.machine_description("cpu", args.threads)],
        body,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
