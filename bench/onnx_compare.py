"""Is ONNX Runtime faster than torch for NerTagger, and what do its tags cost in agreement and F1?

Tags the same PAN-X validation sentences of de/fr/it/en as raw text (each sentence's tokens
joined with spaces, as in ``bench/infer_throughput.py``) with five taggers:
torch fp32, torch ``quantize=True`` (int8 Linear layers), torch ``dtype="bfloat16"`` (on CPUs
with AMX, bfloat16 matrix products), and the model exported with
``swiss-ner export`` to ONNX fp32 and int8 (``--quantize``), run with ONNX Runtime. Every round
runs each tagger alone in a fresh process (so no other thread pool spins beside it), one after
another in alternating order, and the speed ratios are taken within the round, so that the
drift of a shared machine cancels; the table gives medians and ranges over rounds.
It also gives the share of word tags (on the gold words) equal to the torch fp32 tagger's and
the entity F1 (seqeval) against the gold tags, with its change from torch fp32.

    python bench/onnx_compare.py --model outputs/small-panx-ch --num-sentences 1000 --threads 2

The table is printed and appended to bench/RESULTS.md. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from infer_throughput import (
    WARMUP_TEXTS,
    agreement,
    entity_f1,
    load_sentences,
    tagging_parser,
    timed,
)

VARIANTS = {
    "torch": "torch fp32",
    "torch-int8": "torch `--quantize` (int8 Linear)",
    "torch-bf16": "torch `--dtype bfloat16`",
    "onnx": "ONNX Runtime fp32",
    "onnx-int8": "ONNX Runtime int8 (`export --quantize`)",
}
AGREEMENT_TARGET = 0.995


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = tagging_parser(__doc__, "trained model folder (torch weights)")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads of torch and ONNX Runtime alike"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds over every tagger (default: 5)"
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="timed runs per variant and round (default: 2)"
    )
    harness.add_results_options(parser)
    parser.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)
    for hidden in ("--export-dir", "--sentences-file", "--output-file"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def export_both(model: str, export_dir: Path) -> dict[str, float]:
    """Export the ONNX fp32 and int8 folders; the seconds each export took."""
    from swiss_ner.inference.onnx_backend import export_onnx

    export_seconds = {}
    for variant, quantize in (("onnx", False), ("onnx-int8", True)):
        start = time.perf_counter()
        export_onnx(model, export_dir / variant, quantize=quantize)
        export_seconds[variant] = time.perf_counter() - start
    return export_seconds


def load_tagger(variant: str, model: str, export_dir: Path):
    from swiss_ner.inference import NerTagger

    if variant.startswith("onnx"):
        return NerTagger.from_pretrained(str(export_dir / variant), backend="onnx")
    return NerTagger.from_pretrained(
        model,
        device="cpu",
        quantize=variant == "torch-int8",
        dtype="bfloat16" if variant == "torch-bf16" else "float32",
    )


def run_worker(args: argparse.Namespace) -> None:
    """In the child: one tagger alone in its process (no other thread pool spinning beside it),
    warmed up, timed ``--repeats`` times on all texts (the fastest counts), with its word tags."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)  # before loading: ONNX Runtime takes the same count
    sentences = json.loads(Path(args.sentences_file).read_text(encoding="utf-8"))
    texts = [" ".join(sentence["tokens"]) for sentence in sentences]
    tagger = load_tagger(args.worker, args.model, Path(args.export_dir))
    tagger.tag(texts[:WARMUP_TEXTS])
    seconds = min(timed(tagger.tag, texts, "cpu") for _ in range(args.repeats))
    tags = [tags for tags, _ in tagger.predict_words([s["tokens"] for s in sentences])]
    Path(args.output_file).write_text(json.dumps({"seconds": seconds, "tags": tags}))


def measure(variant: str, args: argparse.Namespace, sentences_file: str, export_dir: str) -> dict:
    """Run one variant in a fresh process and return its seconds and word tags."""
    with tempfile.TemporaryDirectory() as folder:
        output_file = Path(folder) / "result.json"
        command = [
            sys.executable, __file__, "--worker", variant, "--model", args.model,
            "--export-dir", export_dir, "--sentences-file", sentences_file,
            "--output-file", str(output_file), "--repeats", str(args.repeats),
        ]  # fmt: skip
        if args.threads:
            command += ["--threads", str(args.threads)]
        subprocess.run(command, check=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        return json.loads(output_file.read_text(encoding="utf-8"))


def time_rounds(args: argparse.Namespace, sentences_file: str, export_dir: str):
    """Seconds per round for each variant, and each variant's word tags. Every round runs the
    variants one after another in fresh processes, in reverse order every second round."""
    seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    tags: dict[str, list[list[str]]] = {}
    for number in range(args.rounds):
        order = list(VARIANTS) if number % 2 == 0 else list(reversed(VARIANTS))
        for variant in order:
            result = measure(variant, args, sentences_file, export_dir)
            seconds[variant].append(result["seconds"])
            tags[variant] = result["tags"]
        print(f"round {number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    return seconds, tags


def ratio_cell(seconds: dict[str, list[float]], variant: str, base: str) -> str:
    """Median speed ratio to ``base`` over rounds, with its range."""
    ratios = [b / v for v, b in zip(seconds[variant], seconds[base], strict=True)]
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"


def table(seconds: dict, tags: dict, sentences: list[dict], export_seconds: dict) -> str:
    """The markdown table: speed, ratios, agreement with torch fp32 and F1."""
    lines = [
        "| variant | sentences/s (median) | × torch fp32 | × torch int8 | export s "
        "| word tags = torch fp32 | F1 | ΔF1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base_f1 = entity_f1(tags["torch"], sentences)
    for variant, label in VARIANTS.items():
        rate = statistics.median(len(sentences) / s for s in seconds[variant])
        f1 = entity_f1(tags[variant], sentences)
        cells = [
            label,
            f"{rate:.1f}",
            ratio_cell(seconds, variant, "torch"),
            ratio_cell(seconds, variant, "torch-int8"),
            f"{export_seconds[variant]:.1f}" if variant in export_seconds else "–",
            f"{agreement(tags[variant], tags['torch']):.2%}",
            f"{f1:.4f}",
            f"{f1 - base_f1:+.4f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    sentences = load_sentences(args.data_dir, args.num_sentences)
    with tempfile.TemporaryDirectory() as folder:
        sentences_file = Path(folder) / "sentences.json"
        sentences_file.write_text(json.dumps(sentences), encoding="utf-8")
        export_seconds = export_both(args.model, Path(folder))
        seconds, tags = time_rounds(args, str(sentences_file), folder)
    markdown = table(seconds, tags, sentences, export_seconds)
    heading = (
        f"ONNX Runtime against torch, {args.model}, {len(sentences)} sentences, "
        f"{args.rounds} rounds, best of {args.repeats} per round"
    )
    details = (
        f"{harness.machine_description('cpu', args.threads)}; onnxruntime "
        f"{_onnxruntime_version()}. Each variant alone in a fresh process per round; ratios are "
        "medians of per-round ratios (range in brackets); word tags on the gold words."
    )
    command = list(sys.argv[1:] if argv is None else argv)
    harness.publish(args, heading, __file__, command, [details], markdown)
    fp32_agreement = agreement(tags["onnx"], tags["torch"])
    if fp32_agreement < AGREEMENT_TARGET:
        print(
            f"ONNX fp32 word tags agree with torch fp32 on only {fp32_agreement:.2%} "
            f"(< {AGREEMENT_TARGET:.1%}): the export is wrong; check torch.onnx.export's output",
            file=sys.stderr,
        )
        return 1
    return 0


def _onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


if __name__ == "__main__":
    sys.exit(main())
