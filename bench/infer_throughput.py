"""How fast NerTagger tags raw text, against the transformers pipeline, and what int8 costs.

Reads PAN-X validation sentences of de/fr/it/en, joins each sentence's tokens with spaces into
raw text, and tags all of it with each variant in a fresh process (so that peak resident memory
is the variant's own): NerTagger, NerTagger with int8 dynamic quantisation, and
``pipeline("ner", aggregation_strategy="simple")`` batched (64) and one sentence at a time.
It reports sentences/s, words/s, peak RSS, the speed ratios to both pipelines, the share of
words whose tag equals that of an unbatched forward pass of the stock model (one sentence at a
time, each word's first piece, on the gold tokens), and entity F1 on the gold tags.
The table is printed and appended to bench/RESULTS.md with the machine, library versions and
command line; ``--rounds N`` measures the variants in turn N times and gives medians and ranges.

    python bench/infer_throughput.py --model outputs/small-panx-ch --num-sentences 1000

Run it on a quiet machine: other processes on the cores change every number.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import harness

LANGS = ("de", "fr", "it", "en")
VARIANTS = {
    "tagger": "NerTagger",
    "tagger-int8": "NerTagger, int8 quantised",
    "tagger-full-last-layer": "NerTagger, last layer at every position",
    "pipeline-batched": "pipeline, batch_size=64",
    "pipeline-single": "pipeline, one at a time",
}
REFERENCES = ("pipeline-batched", "pipeline-single")
PIPELINE_BATCH_SIZE = 64
WARMUP_TEXTS = 16


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = tagging_parser(__doc__, "model folder (or Hub repo id) to load")
    parser.add_argument("--device", default="cpu", help='"cpu" (default), "cuda" or "cuda:N"')
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed runs per variant after a warm-up; the fastest counts (default: 3)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the variants in turn this many times, each in a fresh process (every second "
        "round in reverse order); medians with their range, ratios taken within each round "
        "(default: 1)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="what to measure (default: all; int8 runs on the CPU only)",
    )
    harness.add_results_options(parser)
    harness.add_child_options(parser)
    parser.add_argument("--sentences-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.num_sentences, args.repeats, args.rounds) < 1:
        parser.error("--num-sentences, --repeats and --rounds must be at least 1")
    return args


def tagging_parser(description: str, model_help: str) -> argparse.ArgumentParser:
    """The options of the tagging benchmarks: ``--model``, and ``--data-dir`` and
    ``--num-sentences`` for :func:`load_sentences`."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help=model_help)
    parser.add_argument(
        "--data-dir",
        default=str(harness.DATA_DIR),
        help="folder with validation-{lang}.tsv (default: ../shared/data/panx)",
    )
    parser.add_argument(
        "--num-sentences",
        type=int,
        default=1000,
        help="validation sentences, spread evenly over de/fr/it/en (default: 1000)",
    )
    return parser


def load_sentences(data_dir: str, num_sentences: int) -> list[dict]:
    """``{"lang", "tokens", "tags"}`` of the first validation sentences of each language."""
    from swiss_ner.data import load_panx

    sentences = []
    for number, lang in enumerate(LANGS):
        share = num_sentences // len(LANGS) + (number < num_sentences % len(LANGS))
        validation = load_panx(lang, data_dir)["validation"]
        names = validation.features["ner_tags"].feature.names
        for row in validation.select(range(min(share, len(validation)))):
            tags = [names[tag] for tag in row["ner_tags"]]
            sentences.append({"lang": lang, "tokens": row["tokens"], "tags": tags})
    return sentences


def child(args: argparse.Namespace) -> dict:
    """In the child: load one variant, warm it up, time it on every text (the fastest of
    ``--repeats`` runs counts) and, for NerTagger, tag the gold words."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    sentences = json.loads(Path(args.sentences_file).read_text(encoding="utf-8"))
    texts = [" ".join(sentence["tokens"]) for sentence in sentences]
    tag, tagger = load_variant(args.child, args.model, args.device)
    tag(texts[:WARMUP_TEXTS])
    result = {"seconds": min(timed(tag, texts, args.device) for _ in range(args.repeats))}
    if tagger is not None:
        predicted = tagger.predict_words([sentence["tokens"] for sentence in sentences])
        result["word_tags"] = [tags for tags, _ in predicted]
    return result


def timed(tag, texts: list[str], device: str) -> float:
    """Seconds to tag every text, waiting for the GPU to finish."""
    return harness.seconds_per_call(lambda: tag(texts), device)


def load_variant(variant: str, model: str, device: str):
    """``(tag, tagger)``: a function that tags a list of texts, and the NerTagger if any."""
    from swiss_ner.inference import NerTagger

    if variant.startswith("tagger"):
        tagger = NerTagger.from_pretrained(model, device=device, quantize=variant == "tagger-int8")
        # The tagger as it was before its last layer ran at the read positions only.
        tagger.reads_selected = variant != "tagger-full-last-layer"
        return tagger.tag, tagger
    from transformers import pipeline

    ner = pipeline("ner", model=model, aggregation_strategy="simple", device=device)
    if variant == "pipeline-batched":
        return (lambda texts: ner(texts, batch_size=PIPELINE_BATCH_SIZE)), None
    return (lambda texts: [ner(text) for text in texts]), None


def measure(variant: str, args: argparse.Namespace, sentences_file: str, count: int) -> dict:
    """Run one variant in a fresh Python process and return what it measured."""
    argv = ["--model", args.model, "--device", args.device, "--repeats", str(args.repeats),
            "--sentences-file", sentences_file]  # fmt: skip
    if args.threads:
        argv += ["--threads", str(args.threads)]
    result = harness.run_child(__file__, argv, variant, env={"TOKENIZERS_PARALLELISM": "false"})
    if "failed" in result:
        raise SystemExit(f"{VARIANTS[variant]} failed: {result['failed']}")
    return {**result, "sentences_per_s": count / result["seconds"]}


def reference_tags(model_path: str, sentences: list[dict], device: str) -> list[list[str]]:
    """Tags of the stock model, one unpadded sentence at a time, read on each word's first piece."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForTokenClassification.from_pretrained(model_path).to(device).eval()
    results = []
    with torch.inference_mode():
        for sentence in sentences:
            encoding = tokenizer(
                sentence["tokens"], is_split_into_words=True, truncation=True, return_tensors="pt"
            )
            labels = (
                model(
                    input_ids=encoding["input_ids"].to(device),
                    attention_mask=encoding["attention_mask"].to(device),
                )
                .logits[0]
                .argmax(-1)
                .tolist()
            )
            first_pieces: dict[int, str] = {}
            for position, word in enumerate(encoding.word_ids()):
                if word is not None and word not in first_pieces:
                    first_pieces[word] = model.config.id2label[labels[position]]
            results.append([first_pieces.get(i, "O") for i in range(len(sentence["tokens"]))])
    return results


def agreement(predicted: list[list[str]], reference: list[list[str]]) -> float:
    """Share of words whose tag equals the reference's."""
    pairs = [
        pair
        for tags, expected in zip(predicted, reference, strict=True)
        for pair in zip(tags, expected, strict=True)
    ]
    return sum(a == b for a, b in pairs) / max(len(pairs), 1)


def entity_f1(predicted: list[list[str]], sentences: list[dict]) -> float:
    """Overall entity-level F1 (seqeval) against the gold tags."""
    from swiss_ner.metrics import load_seqeval

    gold = [sentence["tags"] for sentence in sentences]
    return load_seqeval().compute(predictions=predicted, references=gold)["overall_f1"]


def table(rows: dict[str, dict], sentences: list[dict], reference: list[list[str]]) -> str:
    """The markdown table of every measured variant."""
    from swiss_ner.inference import split_words

    words = sum(len(split_words(" ".join(s["tokens"]))) for s in sentences)
    lines = [
        "| variant | sentences/s | words/s | peak RSS MiB | × pipeline batched "
        "| × pipeline 1-by-1 | word agreement | F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant, row in rows.items():
        ratios = [
            harness.with_range(row["ratios"][base], "{:.2f}") if base in row["ratios"] else "–"
            for base in REFERENCES
        ]
        tags = row.get("word_tags")
        quality = (
            [f"{agreement(tags, reference):.2%}", f"{entity_f1(tags, sentences):.4f}"]
            if tags
            else ["–", "–"]
        )
        cells = [
            VARIANTS[variant],
            harness.with_range(row["each"], "{:.1f}"),
            f"{row['sentences_per_s'] * words / len(sentences):.0f}",
            f"{row['peak_rss_mib']:.0f}",
            *ratios,
            *quality,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.child:
        harness.write_child_result(args, child(args))
        return 0
    variants = [v for v in args.variants if v != "tagger-int8" or args.device == "cpu"]
    sentences = load_sentences(args.data_dir, args.num_sentences)
    with tempfile.TemporaryDirectory() as folder:
        sentences_file = Path(folder) / "sentences.json"
        sentences_file.write_text(json.dumps(sentences), encoding="utf-8")
        rounds = harness.measure_rounds(
            variants, args.rounds, lambda v: measure(v, args, str(sentences_file), len(sentences))
        )
    rows = harness.summarise_rounds(rounds, "sentences_per_s", REFERENCES)
    reference = reference_tags(args.model, sentences, args.device)
    rounds_text = f", {args.rounds} rounds" if args.rounds > 1 else ""
    title = (
        f"Inference throughput: {args.model}, {len(sentences)} sentences, best of "
        f"{args.repeats}{rounds_text}"
    )
    details = [harness.machine_description(args.device, args.threads)]
    harness.publish(args, title, __file__, argv, details, table(rows, sentences, reference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
