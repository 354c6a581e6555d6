"""Training throughput: the swiss-ner loop against transformers' Trainer, side by side.

Every variant trains the same model on the same German Swiss subset with the same batch size,
precision and device, each in a fresh subprocess (so peak memory is its own). Time is taken
between two optimizer steps, after a warm-up, so set-up, evaluation and checkpoints fall
outside the window. The table (samples/s, real tokens/s, padding share, peak memory, ratios)
is printed and appended to bench/RESULTS.md with the machine, versions and date. On a
shared machine whose speed drifts, ``--rounds N`` runs the variants in turn N times (every
second round in reverse order) and reports medians, ranges and the ratios within each round.

    python bench/train_throughput.py --model models/xlmr-small
    python bench/train_throughput.py --model models/xlmr-small --rounds 4 \
        --variants trainer-grouped ours
    python bench/train_throughput.py --model models/xlmr-small --base-shape --device cuda \
        --mixed-precision bf16 --f1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "bench" / "RESULTS.md"
TRAINERS = ("trainer", "trainer-grouped")
OURS = {  # variant -> the options that differ from our defaults
    "ours": {},
    "ours-random": {"group_by_length": False, "pack": False},
    "ours-grouped": {"group_by_length": True, "pack": False},
    "ours-group-64": {"group_by_length": True, "pack": False, "length_group_size": 64},
    "ours-sync-every-step": {"log_every": 1},
    "ours-unfused": {"fused_adamw": False},
    "ours-book-loss": {"label_all_tokens": False, "consistency_weight": 0.0},
    "ours-pack": {"group_by_length": False, "pack": True},
    "ours-pad-8": {"pad_to": 8},
    "ours-grouped-pack": {"group_by_length": True, "pack": True},
    "ours-compile": {"compile": "default"},
    "ours-cudagraphs": {"compile": "reduce-overhead"},
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--model",
        default="models/xlmr-small",
        help="model folder (with tokenizer); with --base-shape only its tokenizer",
    )
    parser.add_argument(
        "--base-shape",
        action="store_true",
        help="random weights of xlm-roberta-base's shape (vocabulary 250,002, "
        "hidden 768, 12 layers)",
    )
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT.parent / "shared/data/panx"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--mixed-precision", default="no", choices=("no", "fp16", "bf16"))
    parser.add_argument(
        "--matmul-precision",
        default="highest",
        choices=("highest", "high", "medium"),
        help="float32 matrix products, for every variant (torch.set_float32_matmul_precision)",
    )
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=5e-5,
        help="for every variant (the seed's 5e-5; 1e-3 suits the small model)",
    )
    parser.add_argument("--warmup-ratio", type=float, default=0.0, help="for every variant")
    parser.add_argument(
        "--seed", type=int, default=42, help="for every variant: the Swiss mix, order and init"
    )
    parser.add_argument("--warmup-steps", type=int, default=30)
    parser.add_argument("--steps", type=int, default=150, help="steps in the timed window")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=[
            *TRAINERS,
            "ours",
            "ours-random",
            "ours-sync-every-step",
            "ours-unfused",
            "ours-book-loss",
        ],
        choices=[*TRAINERS, *OURS],
    )
    parser.add_argument(
        "--f1",
        action="store_true",
        help="also train one full epoch of each --f1-variants and score German validation",
    )
    parser.add_argument(
        "--f1-variants",
        nargs="+",
        default=[*TRAINERS, "ours"],
        choices=[*TRAINERS, *OURS],
        help="the variants that --f1 trains for one epoch",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the variants in turn this many times (every second round in reverse order) "
        "and report medians with their range; the ratios are taken within each round, whose "
        "variants run close in time, so the machine's drift cancels",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


class Window:
    """Times the steps in [warmup, warmup + steps) and records each collated batch's tokens."""

    def __init__(self, warmup: int, steps: int, cuda: bool) -> None:
        self.warmup, self.steps, self.cuda = warmup, steps, cuda
        self.start = self.end = None
        self.batches: list[tuple[int, int]] = []  # (real tokens, padded tokens) per batch

    def on_step(self, step: int) -> None:
        if step in (self.warmup, self.warmup + self.steps):
            if self.cuda:
                import torch

                torch.cuda.synchronize()
            if step == self.warmup:
                self.start = time.perf_counter()
            else:
                self.end = time.perf_counter()

    def record_collation(self) -> None:
        """Wrap the collators (padding, used by both loops, and packing) to count tokens."""
        from transformers import DataCollatorForTokenClassification

        from swiss_ner.data import PackingCollator

        for collator_class in (DataCollatorForTokenClassification, PackingCollator):
            collator_class.__call__ = self._recording(collator_class.__call__)

    def _recording(self, original):
        def recording(collator, features, *args, **kwargs):
            batch = original(collator, features, *args, **kwargs)
            real = sum(len(feature["input_ids"]) for feature in features)
            self.batches.append((real, batch["input_ids"].numel()))
            return batch

        return recording

    def result(self, batch_size: int) -> dict:
        seconds = self.end - self.start
        window = self.batches[self.warmup : self.warmup + self.steps]
        real, padded = sum(b[0] for b in window), sum(b[1] for b in window)
        return {
            "seconds": seconds,
            "samples_per_s": self.steps * batch_size / seconds,
            "tokens_per_s": real / seconds,
            "padding": 1 - real / padded,
            "mean_padded_length": padded / (self.steps * batch_size),
        }


def base_shape_folder(tokenizer_dir: str, out: Path) -> str:
    """xlm-roberta-base's architecture with random weights, with the given tokenizer."""
    from transformers import AutoTokenizer, XLMRobertaConfig

    from swiss_ner.constants import LABEL_NAMES
    from swiss_ner.modeling import XLMRobertaTokenClassification

    config = XLMRobertaConfig(
        vocab_size=250_002,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        id2label=dict(enumerate(LABEL_NAMES)),
        label2id={n: i for i, n in enumerate(LABEL_NAMES)},
    )
    XLMRobertaTokenClassification(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out)
    return str(out)


def run_ours(args, options: dict, window: Window | None, output_dir: str, epochs: int):
    from swiss_ner.config import TrainConfig
    from swiss_ner.training import train

    config = TrainConfig(
        model_name_or_path=args.model,
        output_dir=output_dir,
        data_dir=args.data_dir,
        eval_langs=["de"],
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_ratio=args.warmup_ratio,
        report_to="none",
        cpu=args.device == "cpu",
        mixed_precision=args.mixed_precision,
        matmul_precision=args.matmul_precision,
        num_threads=args.threads,
        seed=args.seed,
        save_total_limit=1,
        max_steps=None if window is None else window.warmup + window.steps,
        num_epochs=epochs,
        max_eval_samples=None if window is None else 1,
        **options,
    )
    return train(config, on_step=None if window is None else window.on_step)


def trainer_f1_and_run(args, grouped: bool, window: Window | None, output_dir: str) -> float:
    """Train with the book's Trainer arguments; F1 on German validation after one epoch."""
    import numpy as np
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from swiss_ner.constants import LABEL_NAMES
    from swiss_ner.data import build_swiss_corpus, tokenize_and_align
    from swiss_ner.evaluation import score_tags, word_tags
    from swiss_ner.metrics import load_seqeval

    corpus = build_swiss_corpus(seed=args.seed, data_dir=args.data_dir)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    max_length = min(512, tokenizer.model_max_length)
    train_set = tokenize_and_align(corpus["de"]["train"], tokenizer, max_length).remove_columns(
        "cut_entities"
    )
    model = AutoModelForTokenClassification.from_pretrained(
        args.model,
        num_labels=len(LABEL_NAMES),
        id2label=dict(enumerate(LABEL_NAMES)),
        label2id={n: i for i, n in enumerate(LABEL_NAMES)},
        ignore_mismatched_sizes=True,
    )
    training_args = TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=1 if window is None else 3,
        max_steps=-1 if window is None else window.warmup + window.steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_ratio,
        weight_decay=0.01,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=10**9,
        report_to="none",
        use_cpu=args.device == "cpu",
        bf16=args.mixed_precision == "bf16",
        fp16=args.mixed_precision == "fp16",
        seed=args.seed,
        disable_tqdm=True,
        train_sampling_strategy="group_by_length" if grouped else "random",
    )
    callbacks = []
    if window is not None:

        class Timing(TrainerCallback):
            def on_step_end(self, _args, state, control, **kwargs):
                window.on_step(state.global_step)

        callbacks.append(Timing())
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        callbacks=callbacks,
    )
    trainer.train()
    if window is not None:
        return float("nan")
    validation = tokenize_and_align(corpus["de"]["validation"], tokenizer, max_length)
    output = trainer.predict(validation.remove_columns("cut_entities"))
    import torch

    predicted, gold = word_tags(
        torch.as_tensor(np.argmax(output.predictions, -1)),
        torch.as_tensor(output.label_ids),
        dict(enumerate(LABEL_NAMES)),
    )
    return score_tags(predicted, gold, load_seqeval(), ["PER", "ORG", "LOC"]).f1


def child(args) -> dict:
    """Run one variant in this process and return its measurements."""
    import torch

    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision(args.matmul_precision)  # the Trainer's; ours sets its own
    name, _, purpose = args.child.partition(":")
    with tempfile.TemporaryDirectory() as scratch:
        if purpose == "f1":
            if name in TRAINERS:
                return {"f1": trainer_f1_and_run(args, name == "trainer-grouped", None, scratch)}
            results = run_ours(args, OURS[name], None, scratch, epochs=1)
            return {
                "f1": results.metrics["de"].f1,
                "f1_ci": [results.metrics["de"].f1_ci.low, results.metrics["de"].f1_ci.high],
            }
        window = Window(args.warmup_steps, args.steps, args.device == "cuda")
        window.record_collation()
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        if name in TRAINERS:
            trainer_f1_and_run(args, name == "trainer-grouped", window, scratch)
        else:
            run_ours(args, OURS[name], window, scratch, epochs=3)
        measured = window.result(args.batch_size)
    measured["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.device == "cuda":
        measured["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return measured


def run_child(args, variant: str, argv: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, *argv, "--child", variant, "--child-out", out.name]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:  # reported in the table; the other variants still run
            print(f"{variant} failed:\n{completed.stderr[-3000:]}", file=sys.stderr, flush=True)
            return {"failed": completed.stderr.strip().splitlines()[-1:] or ["no output"]}
        return json.loads(Path(out.name).read_text())


def device_limits(device: str, precision: str, threads: int, matmul_precision: str) -> dict:
    """The matmul rate (FLOP/s) and, on the GPU, the copy bandwidth measured on this device."""
    import torch

    torch.set_num_threads(threads)
    torch.set_float32_matmul_precision(matmul_precision)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    size = 8192 if device == "cuda" else 1024
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    repeats = 20 if device == "cuda" else 10
    for _ in range(2):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    limits = {"matmul_flops": 2 * size**3 * repeats / (time.perf_counter() - start)}
    if device == "cuda":
        source = torch.empty(2**29, device=device)  # 2 GiB
        target = torch.empty_like(source)
        target.copy_(source)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(5):
            target.copy_(source)
        torch.cuda.synchronize()
        limits["bandwidth"] = 2 * source.numel() * 4 * 5 / (time.perf_counter() - start)
    return limits


def model_size(args) -> dict:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(args.model)
    d, layers, ff = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    body = layers * (4 * d * d + 2 * d * ff + 9 * d + ff) + 7 * d + 7
    embeddings = (config.vocab_size + config.max_position_embeddings + 2) * d
    return {"non_embedding": body, "total": body + embeddings, "layers": layers, "hidden": d}


def physical_limit_lines(rows: dict, size: dict, limits: dict, batch: int) -> list[str]:
    """How far each variant is from the matmul rate (and, on GPU, from AdamW's memory traffic)."""
    lines = [f"- Matmul rate measured here: {limits['matmul_flops'] / 1e12:.2f} TFLOP/s."]
    for name, row in rows.items():
        per_token = (
            6 * size["non_embedding"]
            + 12 * size["layers"] * size["hidden"] * row["mean_padded_length"]
        )
        useful = per_token * row["tokens_per_s"]
        share = 100 * useful / limits["matmul_flops"]
        lines.append(
            f"- {name}: {useful / 1e12:.3f} TFLOP/s of useful (non-padding) training "
            f"arithmetic, {share:.1f}% of the matmul rate."
        )
    if "bandwidth" in limits:
        adamw_bytes = 28 * size["total"]  # read param, grad, two moments; write three
        floor_ms = 1e3 * adamw_bytes / limits["bandwidth"]
        lines.append(
            f"- AdamW moves about {adamw_bytes / 1e9:.1f} GB per step; at the measured "
            f"{limits['bandwidth'] / 1e12:.2f} TB/s that is {floor_ms:.1f} ms per step."
        )
        for name, row in rows.items():
            step_ms = 1e3 * batch / row["samples_per_s"]
            lines.append(f"- {name}: {step_ms:.1f} ms per step.")
    return lines


def measure_rounds(args, argv: list[str]) -> list[dict]:
    """Each variant once per round; one {variant: measurements} per round. Every second round
    runs the variants in reverse order, so that a machine drifting slower or faster during
    the run does not favour the variants that come first."""
    rounds = []
    for number in range(1, args.rounds + 1):
        measured = {}
        for variant in args.variants if number % 2 else reversed(args.variants):
            print(
                f"round {number}/{args.rounds}: measuring {variant} ...",
                file=sys.stderr,
                flush=True,
            )
            measured[variant] = run_child(args, variant, argv)
            print(f"{variant}: {json.dumps(measured[variant])}", file=sys.stderr, flush=True)
        rounds.append(measured)
    return rounds


def summarise_rounds(rounds: list[dict], references=TRAINERS) -> dict:
    """Per variant: the median of each measurement, samples/s of every round, and the ratio to
    each reference variant taken within each round (so drift between rounds cancels)."""
    rows = {}
    for variant in rounds[0]:
        runs = [measured[variant] for measured in rounds]
        failed = [run for run in runs if "failed" in run]
        if failed:
            rows[variant] = failed[0]
            continue
        row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        row["samples_per_s_each"] = [run["samples_per_s"] for run in runs]
        row["ratios"] = {
            reference: [
                measured[variant]["samples_per_s"] / measured[reference]["samples_per_s"]
                for measured in rounds
            ]
            for reference in references
            if all("samples_per_s" in measured.get(reference, {}) for measured in rounds)
        }
        rows[variant] = row
    return rows


def with_range(values: list[float], form: str) -> str:
    """The median, and where the values differ their range: '285 (270–291)'."""
    text = form.format(statistics.median(values))
    if min(values) != max(values):
        text += f" ({form.format(min(values))}–{form.format(max(values))})"
    return text


def table(rows: dict, reference: str, grouped: str) -> list[str]:
    lines = [
        "| variant | samples/s | real tokens/s | padding | peak memory (MiB) | "
        f"vs {reference} | vs {grouped} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        if "failed" in row:
            lines.append(f"| {name} | failed: {row['failed'][0][:120]} | | | | | |")
            continue
        memory = row.get("peak_gpu_mib", row["peak_rss_mib"])
        ratios = [
            with_range(row["ratios"][other], "{:.2f}×") if other in row["ratios"] else ""
            for other in (reference, grouped)
        ]
        lines.append(
            f"| {name} | {with_range(row['samples_per_s_each'], '{:.0f}')} | "
            f"{row['tokens_per_s']:.0f} | {100 * row['padding']:.1f}% | {memory:.0f} | "
            f"{ratios[0]} | {ratios[1]} |"
        )
    return lines


def header(args, command: str) -> list[str]:
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    device = (
        torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {args.threads} threads"
    )
    model = "xlm-roberta-base shape, random weights" if args.base_shape else args.model
    rounds = (
        f"; {args.rounds} rounds, the variants in turn (every second round in reverse order): "
        "medians (and ranges), ratios taken within each round"
        if args.rounds > 1
        else ""
    )
    return [
        f"## Training throughput, {date.today().isoformat()}",
        "",
        f"- Machine: {cpu}, {os.cpu_count()} cores; device: {device}; precision "
        f"{args.mixed_precision}, float32 products {args.matmul_precision}.",
        f"- torch {torch.__version__}, transformers {transformers.__version__}.",
        f"- Model: {model}; German Swiss subset; batch {args.batch_size}; learning rate "
        f"{args.learning_rate}, warm-up ratio {args.warmup_ratio}, seed {args.seed} for every "
        f"variant; steps "
        f"{args.warmup_steps}–{args.warmup_steps + args.steps} timed{rounds}.",
        f"- Command: `{command}`",
        "",
    ]


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        Path(args.child_out).write_text(json.dumps(child(args)))
        return
    argv = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as scratch:
        if args.base_shape:
            args.model = base_shape_folder(args.model, Path(scratch) / "base-shape")
            argv = [*argv, "--model", args.model]
        rows = summarise_rounds(measure_rounds(args, argv))
        f1 = {}
        if args.f1:
            for variant in args.f1_variants:
                print(f"one epoch of {variant} for F1 ...", file=sys.stderr, flush=True)
                f1[variant] = run_child(args, f"{variant}:f1", argv)
        size = model_size(args)
    limits = device_limits(args.device, args.mixed_precision, args.threads, args.matmul_precision)
    lines = header(args, "python bench/train_throughput.py " + " ".join(sys.argv[1:]))
    lines += table(rows, "trainer", "trainer-grouped")
    if f1:
        lines += [
            "",
            "F1 on German validation (Swiss subset, 6,290 sentences) after one epoch: "
            + ", ".join(
                f"{name} {value['f1']:.3f}" if "f1" in value else f"{name} failed"
                for name, value in f1.items()
            )
            + "".join(
                f"; {name} minus the seed-args Trainer {value['f1'] - f1['trainer']['f1']:+.3f} "
                f"({name} 95% CI {value['f1_ci'][0]:.3f}–{value['f1_ci'][1]:.3f})"
                for name, value in f1.items()
                if "f1_ci" in value and "f1" in f1.get("trainer", {})
            )
            + ".",
        ]
    lines += [
        "",
        "Physical limit:",
        *physical_limit_lines(
            {name: row for name, row in rows.items() if "failed" not in row},
            size,
            limits,
            args.batch_size,
        ),
        "",
    ]
    print("\n".join(lines))
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\nAppended by the scripts in bench/.\n\n")
        with RESULTS.open("a") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
