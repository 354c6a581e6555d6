"""How fast ``swiss-ner tag-corpus`` tags a corpus, how much memory it keeps, and against what.

Builds documents of one to three PAN-X validation sentences of one language (joined as raw
text; de, fr, it and en take turns, so small and large corpora hold the same mix) into a JSONL
corpus and measures, each in a fresh process whose peak RSS is its own:
``NerTagger.tag`` on every text held in memory; ``tag-corpus`` with the local engine in one
process (also with ``--dtype bfloat16`` and with ``--compile``) and in two (``accelerate
launch``); the Ray engine; and ``pipeline("ner", aggregation_strategy="simple")`` over
``KeyDataset(dataset, "text")`` with ``batch_size=64``.
The local engine is run again on ``--large-docs`` documents for its peak RSS. Entities of the
local engine are compared with ``NerTagger.tag``'s on every document (text, type, offsets;
scores may differ in the last float32 bits, since batches differ), and the count that differ
is reported. ``--interleaved ROUNDS`` also keeps the in-memory tagger, the local engine and the
pipeline each in a process that stays up and has them take turns on the whole corpus, so that
no start-ups lie between the runs whose rates are compared. The table is printed and appended
to bench/RESULTS.md.

    python bench/corpus_throughput.py --model outputs/small-panx-ch --threads 2

Run it on a quiet machine: other processes on the cores change every number.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from infer_throughput import load_sentences

VARIANTS = {
    "memory": "`NerTagger.tag`, all texts in memory",
    "local": "`tag-corpus`, local engine, 1 process",
    "local-bf16": "`tag-corpus --dtype bfloat16`, local engine, 1 process",
    "local-compile": "`tag-corpus --compile`, local engine, 1 process",
    "local-2": "`tag-corpus`, 2 processes (`accelerate launch`)",
    "ray": "`tag-corpus --engine ray`",
    "pipeline": '`pipeline(KeyDataset(dataset, "text"), batch_size=64)`',
}
SUMMARY = re.compile(r"tagged ([\d,]+) in this run in ([\d.]+) s")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="model folder to load")
    parser.add_argument("--data-dir", default=str(harness.DATA_DIR),
                        help="folder with validation-{lang}.tsv (default: %(default)s)")
    parser.add_argument("--num-docs", type=int, default=2000, help="documents (default 2000)")
    parser.add_argument("--large-docs", type=int, default=200_000,
                        help="documents of the memory run (default 200000; 0 skips it)")
    parser.add_argument("--threads", type=int, default=2, help="CPU cores to use (default 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of every variant, in alternating order; rates and ratios "
                             "are medians over rounds, with their range (default 1)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--interleaved", type=int, default=0, metavar="ROUNDS",
                        help="also time the in-memory tagger, the local engine and the pipeline "
                             "each in a process that stays up, taking turns on the whole corpus "
                             "for ROUNDS rounds (default 0: not)")
    harness.add_results_options(parser)
    harness.add_child_options(parser)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build_corpus(sentences: list[dict], count: int, path: Path) -> int:
    """``count`` documents of 1–3 consecutive sentences of one language, the languages taking
    turns (de, fr, it, en, de, ...), so that a small corpus and a large one hold the same mix;
    each language's sentences cycle. Returns the sentences used."""
    by_lang: dict[str, list[dict]] = {}
    for sentence in sentences:
        by_lang.setdefault(sentence["lang"], []).append(sentence)
    langs = sorted(by_lang, key=[s["lang"] for s in sentences].index)
    cursor = dict.fromkeys(langs, 0)
    total = 0
    with path.open("w", encoding="utf-8") as handle:
        for number in range(count):
            lang, size = langs[number % len(langs)], 1 + number % 3
            pool = by_lang[lang]
            chosen = [pool[(cursor[lang] + k) % len(pool)] for k in range(size)]
            cursor[lang] += size
            total += size
            text = " ".join(" ".join(sentence["tokens"]) for sentence in chosen)
            handle.write(json.dumps({"text": text, "lang": lang}, ensure_ascii=False) + "\n")
    return total


def child(args: argparse.Namespace) -> dict:
    """In the child: tag in memory or with the pipeline, or run a tag-corpus command."""
    variant = args.child
    if variant not in ("memory", "pipeline"):
        started = time.perf_counter()
        done = subprocess.run(command_for(variant, args), capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{variant} failed: {done.stderr[-1500:]}")
        match = SUMMARY.search(done.stdout)
        if match is None:
            sys.exit(f"{variant}: no summary line in {done.stdout[-500:]!r}")
        return {"seconds": float(match.group(2)), "wall": time.perf_counter() - started}
    import torch

    torch.set_num_threads(args.threads)
    lines = Path(args.corpus).read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    if variant == "memory":
        return tag_in_memory(args.model, texts)
    tag = _pipeline(args.model)
    tag(texts[:16])
    started = time.perf_counter()
    tag(texts)
    return {"seconds": time.perf_counter() - started}


def tag_in_memory(model: str, texts: list[str]) -> dict:
    """``NerTagger.tag`` on all texts at once: seconds, entities, and how much of the time its
    forward passes took and at what share of this machine's matmul rate."""
    from swiss_ner.inference import NerTagger

    tagger = NerTagger.from_pretrained(model, device="cpu")
    tagger.tag(texts[:16])
    with harness.timed_forward(tagger) as forward:
        started = time.perf_counter()
        entities = tagger.tag(texts)
        seconds = time.perf_counter() - started
    entities = [[[e.text, e.type, e.start, e.end, e.score] for e in row] for row in entities]
    arithmetic = harness.arithmetic_line(
        VARIANTS["memory"], forward, seconds,
        tagger, harness.matmul_rate())
    return {"seconds": seconds, "entities": entities, "arithmetic": arithmetic}


def resident(args) -> None:
    """In a child of ``harness.take_turns``: load one variant, then tag the whole corpus at each
    turn. Each variant keeps a process of its own, so the local engine's allocator setting
    (process-wide, as ``tag-corpus`` sets it) touches no other variant."""
    import torch

    from swiss_ner.corpus import local

    torch.set_num_threads(args.threads)
    texts = [json.loads(line)["text"] for line in Path(args.corpus).read_text("utf-8").splitlines()]
    if args.child == "resident-local":
        local.map_large_blocks()
        work, before = _engine_work(args)
    else:
        work, before = _resident_work(args), (lambda: None)
        work(texts[:16])
    harness.serve_turns(lambda: work(texts), before)


def _resident_work(args):
    if args.child == "resident-pipeline":
        return _pipeline(args.model)
    from swiss_ner.inference import NerTagger

    return NerTagger.from_pretrained(args.model, device="cpu").tag


def _engine_work(args):
    """What ``tag-corpus`` clocks (reading, tagging and writing every shard), and what it does
    before its clock starts (the folder and its manifest)."""
    import pyarrow.parquet  # noqa: F401  (imported before the clock, as tag-corpus does)
    from accelerate import PartialState

    from swiss_ner.commands.tag_corpus import build_job, load_tagger
    from swiss_ner.config import CorpusConfig
    from swiss_ner.corpus import local
    from swiss_ner.corpus.sources import prepare_readers

    job = build_job(CorpusConfig(inputs=[args.corpus], output=args.out_dir, model=args.model,
                                 overwrite=True, progress=False, device="cpu"))
    tagger, state = load_tagger(job, "cpu"), PartialState(cpu=True)
    prepare_readers(job.files, job.text_column, job.id_column)
    return (lambda texts: local.tag_shards(job, local.my_shards(job, state), tagger),
            lambda: local.start(job, state, overwrite=True))


def interleaved(args, corpus: Path, folder: Path) -> dict[str, list[float]]:
    """Seconds per round of the in-memory tagger, the local engine and the pipeline, each in a
    resident child, taking turns on the whole corpus: a machine that drifts within seconds, as
    this shared one does, then moves all three alike."""
    argv = ["--model", args.model, "--threads", str(args.threads), "--corpus", str(corpus),
            "--out-dir", str(folder / "out-interleaved")]
    commands = {name: [sys.executable, __file__, *argv, "--child", f"resident-{name}"]
                for name in ("memory", "local", "pipeline")}
    return harness.take_turns(commands, args.interleaved,
                              env={"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"})


def interleaved_note(seconds: dict[str, list[float]]) -> str:
    rates = {name: _rates(values) for name, values in seconds.items()}
    pairs = (("local engine", "local", "in memory", "memory"),
             ("local engine", "local", "pipeline", "pipeline"),
             ("in memory", "memory", "pipeline", "pipeline"))
    ratios = ", ".join(f"{label} ÷ {base_label} {_ratio(rates[name], rates[base])}"
                       for label, name, base_label, base in pairs)
    return (f"interleaved ({len(seconds['memory'])} rounds, each variant in a process of its own "
            "that stays up, the three taking turns on the whole corpus, order reversed every "
            "second round), ratios of rates, median "
            f"(range) over rounds: {ratios}")


def _rates(seconds: list[float]) -> list[float]:
    return [1 / value for value in seconds]


def _pipeline(model: str):
    from datasets import Dataset
    from transformers import pipeline
    from transformers.pipelines.pt_utils import KeyDataset

    ner = pipeline("ner", model=model, aggregation_strategy="simple", device="cpu")

    def tag(texts):
        return list(ner(KeyDataset(Dataset.from_dict({"text": texts}), "text"), batch_size=64))

    return tag


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command_for(variant: str, args) -> list[str]:
    """The ``tag-corpus`` command line of a variant (time measured after the model loads)."""
    cli = ["-m", "swiss_ner.cli", "tag-corpus", args.corpus, "-o", args.out_dir, "--model",
           args.model, "--no-progress", "--device", "cpu", "--overwrite"]
    if variant == "local-2":
        accelerate = str(Path(sys.executable).with_name("accelerate"))
        return [accelerate, "launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
                str(_free_port()), *cli, "--num-threads", str(max(1, args.threads // 2))]
    if variant == "ray":
        # One actor; a core stays free for Ray's read tasks.
        return [sys.executable, *cli, "--engine", "ray", "--ray-cpus-per-actor",
                str(max(1, args.threads - 1))]
    options = {"local-bf16": ["--dtype", "bfloat16"], "local-compile": ["--compile"]}
    return [sys.executable, *cli, "--num-threads", str(args.threads), *options.get(variant, [])]


def measure(variant: str, args, corpus: Path, folder: Path) -> dict:
    """One variant in a fresh process (its peak RSS counts its children)."""
    output = folder / f"out-{variant}-{corpus.stem}"
    argv = ["--model", args.model, "--threads", str(args.threads), "--corpus", str(corpus),
            "--out-dir", str(output)]
    result = harness.run_child(__file__, argv, variant,
                               env={"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"})
    if "failed" in result:
        sys.exit(f"{variant} failed: {result['failed']}")
    result["output"] = str(output)
    return result


def compare(output: str, reference: list) -> tuple[int, float]:
    """Documents whose spans differ from the in-memory tagger's, and the largest score gap."""
    import pyarrow.dataset as ds

    rows = sorted(ds.dataset(output, format="parquet").to_table().to_pylist(),
                  key=lambda row: row["id"])
    differing, gap = 0, 0.0
    for row, expected in zip(rows, reference, strict=True):
        got = [[e["text"], e["type"], e["start"], e["end"]] for e in row["entities"]]
        if got != [entity[:4] for entity in expected]:
            differing += 1
            continue
        for entity, want in zip(row["entities"], expected, strict=True):
            gap = max(gap, abs(entity["score"] - want[4]))
    return differing, gap


def table(results: dict, docs: int, sentences: int) -> str:
    """Rates are medians over rounds; ratios are medians of the per-round ratios (with their
    range when there were several rounds), so that the drift of a shared machine cancels."""
    lines = ["| variant | documents/s | sentences/s | peak RSS MiB | × in memory | × pipeline |",
             "|---|---:|---:|---:|---:|---:|"]
    rates = {name: [docs / seconds for seconds in result["rounds"]]
             for name, result in results.items()}
    for name, result in results.items():
        rate = statistics.median(rates[name])
        ratios = [_ratio(rates[name], rates[base]) if base in rates else "–"
                  for base in ("memory", "pipeline")]
        lines.append(f"| {VARIANTS[name]} | {rate:.1f} | {rate * sentences / docs:.1f} | "
                     f"{result['peak_rss_mib']:.0f} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def _ratio(rates: list[float], base: list[float]) -> str:
    ratios = [rate / other for rate, other in zip(rates, base, strict=True)]
    cell = f"{statistics.median(ratios):.2f}"
    return cell if len(ratios) == 1 else f"{cell} ({min(ratios):.2f}–{max(ratios):.2f})"


def measure_rounds(args, corpus: Path, folder: Path) -> dict:
    """Every variant once per round, in reverse order every second round; each variant keeps
    its seconds per round, its highest peak RSS and its last output."""
    results: dict = {}
    for number in range(args.rounds):
        order = args.variants if number % 2 == 0 else list(reversed(args.variants))
        for variant in order:
            print(f"round {number + 1}/{args.rounds}: {VARIANTS[variant]} ...",
                  file=sys.stderr, flush=True)
            result = measure(variant, args, corpus, folder)
            kept = results.setdefault(variant, {"rounds": [], "peak_rss_mib": 0.0})
            kept["rounds"].append(result["seconds"])
            if "wall" in result:
                kept.setdefault("start_up", []).append(result["wall"] - result["seconds"])
            kept["peak_rss_mib"] = max(kept["peak_rss_mib"], result["peak_rss_mib"])
            kept.update({key: result[key] for key in ("output", "entities", "arithmetic")
                         if key in result})
    return {variant: results[variant] for variant in args.variants}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.child and args.child.startswith("resident-"):
        resident(args)
        return 0
    if args.child:
        harness.write_child_result(args, child(args))
        return 0
    sentences = load_sentences(args.data_dir, 10_000_000)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        corpus = folder / "corpus.jsonl"
        used = build_corpus(sentences, args.num_docs, corpus)
        results = measure_rounds(args, corpus, folder)
        notes = [f"{len(sentences):,} validation sentences of de/fr/it/en, joined into documents "
                 "of 1–3 sentences of one language, the languages taking turns; times exclude "
                 "loading the model and importing the readers"]
        for variant in ("local", "local-bf16", "local-compile", "local-2", "ray"):
            if variant in results and "memory" in results:
                differing, gap = compare(results[variant]["output"], results["memory"]["entities"])
                notes.append(f"{VARIANTS[variant]}: entities differ from `NerTagger.tag` on "
                             f"{differing} of {args.num_docs:,} documents; largest score "
                             f"difference {gap:.1e}")
        notes += [f"{results['memory']['arithmetic']} (last round)"] if "memory" in results else []
        notes += [f"{VARIANTS[variant]}: start-up (the process's wall time less its tagging: "
                  f"imports, loading, warm-up{', compiling' if 'compile' in variant else ''}) "
                  f"{statistics.median(result['start_up']):.1f} s"
                  for variant, result in results.items() if "start_up" in result]
        if args.interleaved:
            print(f"interleaving three variants for {args.interleaved} rounds ...",
                  file=sys.stderr, flush=True)
            notes.append(interleaved_note(interleaved(args, corpus, folder)))
        if args.large_docs and "local" in results:
            large = folder / "large.jsonl"
            build_corpus(sentences, args.large_docs, large)
            print(f"measuring the local engine on {args.large_docs:,} documents ...",
                  file=sys.stderr, flush=True)
            big, small = measure("local", args, large, folder), results["local"]["peak_rss_mib"]
            notes.append(f"peak RSS of the local engine: {small:.0f} MiB at {args.num_docs:,} "
                         f"documents, {big['peak_rss_mib']:.0f} MiB at {args.large_docs:,} "
                         f"({big['peak_rss_mib'] - small:+.0f} MiB; "
                         f"{args.large_docs / big['seconds']:.1f} documents/s)")
    body = table(results, args.num_docs, used) + "\n\n" + "".join(f"- {n}\n" for n in notes)
    title = (f"Corpus throughput: {args.model}, {args.num_docs:,} documents ({used:,} sentences), "
             f"{args.rounds} round{'s' if args.rounds > 1 else ''}")
    details = [harness.machine_description("cpu", args.threads,
                                           ("torch", "transformers", "datasets", "ray"))]
    harness.publish(args, title, __file__, argv, details, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
