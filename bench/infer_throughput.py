"""How fast NerTagger tags raw text, against the transformers pipeline, and what int8 costs.

Reads PAN-X validation sentences of de/fr/it/en, joins each sentence's tokens with spaces into
raw text, and tags all of it with each variant in a fresh process (so that peak resident memory
is the variant's own): NerTagger, NerTagger with int8 dynamic quantisation, and
``pipeline("ner", aggregation_strategy="simple")`` batched (64) and one sentence at a time.
It reports sentences/s, words/s, peak RSS, the speed ratios to both pipelines, the share of
words whose tag equals that of an unbatched forward pass of the stock model (one sentence at a
time, each word's first piece, on the gold tokens), and entity F1 on the gold tags.
The table is printed and appended to bench/RESULTS.md with the machine and library versions.

    python bench/infer_throughput.py --model outputs/small-panx-ch --num-sentences 1000

Run it on a quiet machine: other processes on the cores change every number.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LANGS = ("de", "fr", "it", "en")
VARIANTS = {
    "tagger": "NerTagger",
    "tagger-int8": "NerTagger, int8 quantised",
    "pipeline-batched": "pipeline, batch_size=64",
    "pipeline-single": "pipeline, one at a time",
}
PIPELINE_BATCH_SIZE = 64
WARMUP_TEXTS = 16
RESULTS_HEADING = (
    "# Inference throughput\n\nAppended by `bench/infer_throughput.py`, one section per run.\n"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="model folder (or Hub repo id) to load")
    parser.add_argument(
        "--data-dir",
        default=str(PROJECT_ROOT.parent / "shared" / "data" / "panx"),
        help="folder with validation-{lang}.tsv (default: ../shared/data/panx)",
    )
    parser.add_argument(
        "--num-sentences",
        type=int,
        default=1000,
        help="validation sentences, spread evenly over de/fr/it/en (default: 1000)",
    )
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
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="what to measure (default: all; int8 runs on the CPU only)",
    )
    parser.add_argument(
        "--results",
        default=str(PROJECT_ROOT / "bench" / "RESULTS.md"),
        help="markdown file the table is appended to (default: bench/RESULTS.md)",
    )
    parser.add_argument("--no-append", action="store_true", help="print the table only")
    parser.add_argument("--worker", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--sentences-file", help=argparse.SUPPRESS)
    parser.add_argument("--output-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


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


def run_worker(args: argparse.Namespace) -> None:
    """In the child: load one variant, warm it up, time it on every text, write the result."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    sentences = json.loads(Path(args.sentences_file).read_text(encoding="utf-8"))
    texts = [" ".join(sentence["tokens"]) for sentence in sentences]
    tag, tagger = load_variant(args.worker, args.model, args.device)
    tag(texts[:WARMUP_TEXTS])
    seconds = min(timed(tag, texts, args.device) for _ in range(args.repeats))
    result = {
        "seconds": seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if tagger is not None:
        predicted = tagger.predict_words([sentence["tokens"] for sentence in sentences])
        result["word_tags"] = [tags for tags, _ in predicted]
    Path(args.output_file).write_text(json.dumps(result), encoding="utf-8")


def timed(tag, texts: list[str], device: str) -> float:
    """Seconds to tag every text, waiting for the GPU to finish."""
    import torch

    synchronize = torch.cuda.synchronize if device.startswith("cuda") else lambda: None
    synchronize()
    start = time.perf_counter()
    tag(texts)
    synchronize()
    return time.perf_counter() - start


def load_variant(variant: str, model: str, device: str):
    """``(tag, tagger)``: a function that tags a list of texts, and the NerTagger if any."""
    from swiss_ner.inference import NerTagger

    if variant.startswith("tagger"):
        tagger = NerTagger.from_pretrained(model, device=device, quantize=variant == "tagger-int8")
        return tagger.tag, tagger
    from transformers import pipeline

    ner = pipeline("ner", model=model, aggregation_strategy="simple", device=device)
    if variant == "pipeline-batched":
        return (lambda texts: ner(texts, batch_size=PIPELINE_BATCH_SIZE)), None
    return (lambda texts: [ner(text) for text in texts]), None


def measure(variant: str, args: argparse.Namespace, sentences_file: str) -> dict:
    """Run one variant in a fresh Python process and return what it measured."""
    with tempfile.TemporaryDirectory() as folder:
        output_file = Path(folder) / "result.json"
        command = [
            sys.executable,
            __file__,
            "--worker",
            variant,
            "--model",
            args.model,
            "--device",
            args.device,
            "--sentences-file",
            sentences_file,
            "--output-file",
            str(output_file),
            "--repeats",
            str(args.repeats),
        ]
        if args.threads:
            command += ["--threads", str(args.threads)]
        subprocess.run(command, check=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        return json.loads(output_file.read_text(encoding="utf-8"))


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


def table(results: dict[str, dict], sentences: list[dict], reference: list[list[str]]) -> str:
    """The markdown table of every measured variant."""
    from swiss_ner.inference import split_words

    words = sum(len(split_words(" ".join(s["tokens"]))) for s in sentences)
    rates = {variant: len(sentences) / result["seconds"] for variant, result in results.items()}
    lines = [
        "| variant | sentences/s | words/s | peak RSS MiB | × pipeline batched "
        "| × pipeline 1-by-1 | word agreement | F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant, result in results.items():
        ratios = [
            f"{rates[variant] / rates[base]:.2f}" if base in rates else "–"
            for base in ("pipeline-batched", "pipeline-single")
        ]
        tags = result.get("word_tags")
        quality = (
            [f"{agreement(tags, reference):.2%}", f"{entity_f1(tags, sentences):.4f}"]
            if tags
            else ["–", "–"]
        )
        cells = [
            VARIANTS[variant],
            f"{rates[variant]:.1f}",
            f"{rates[variant] * words / len(sentences):.0f}",
            f"{result['peak_rss_mib']:.0f}",
            *ratios,
            *quality,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_description(device: str, threads: int | None) -> str:
    """CPU model, cores, device and library versions: what the numbers depend on."""
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    used = device
    if device.startswith("cuda"):
        used = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    threads = threads or torch.get_num_threads()
    return (
        f"machine: {cpu}, {os.cpu_count()} cores, torch threads {threads}; device: {used}; "
        f"torch {torch.__version__}, transformers {transformers.__version__}"
    )


def append_results(path: Path, heading: str, details: str, markdown: str) -> None:
    """Append one run's section, creating the file with its heading if needed."""
    if not path.exists():
        path.write_text(RESULTS_HEADING, encoding="utf-8")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n## {heading}\n\n{details}\n\n{markdown}\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    variants = [v for v in args.variants if v != "tagger-int8" or args.device == "cpu"]
    sentences = load_sentences(args.data_dir, args.num_sentences)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(sentences, handle)
    try:
        results = {}
        for variant in variants:
            print(f"measuring {VARIANTS[variant]} ...", file=sys.stderr, flush=True)
            results[variant] = measure(variant, args, handle.name)
    finally:
        os.unlink(handle.name)
    reference = reference_tags(args.model, sentences, args.device)
    markdown = table(results, sentences, reference)
    heading = (
        f"{datetime.date.today().isoformat()}: {args.model}, {len(sentences)} sentences, "
        f"best of {args.repeats}"
    )
    details = machine_description(args.device, args.threads)
    print(f"{heading}\n{details}\n\n{markdown}")
    if not args.no_append:
        append_results(Path(args.results), heading, details, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
