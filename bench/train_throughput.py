"""Training throughput: the swiss-ner loop against transformers' Trainer, side by side.

Every variant trains the same model on the same German Swiss subset with the same batch size,
precision and device, each in a fresh subprocess (so peak memory is its own). Time is taken
between two optimizer steps, after a warm-up, so set-up, evaluation and checkpoints fall
outside the window; tokens are counted from the batches each loop trains on. The table
(samples/s, real tokens/s, padding share, peak memory, ratios) is printed and appended to
bench/RESULTS.md with the machine, versions, date and command line. On a shared machine whose
speed drifts, ``--rounds N`` runs the variants in turn N times (every second round in reverse
order) and reports medians, ranges and the ratios within each round.

    python bench/train_throughput.py --model models/xlmr-small
    python bench/train_throughput.py --model models/xlmr-small --rounds 4 \
        --variants trainer-grouped ours
    python bench/train_throughput.py --model models/xlmr-small --base-shape --device cuda \
        --mixed-precision bf16 --f1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import harness
from trainer_baseline import run_trainer

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
DEFAULT_VARIANTS = [
    *TRAINERS, "ours", "ours-random", "ours-sync-every-step", "ours-unfused", "ours-book-loss"
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    add("--model", default="models/xlmr-small",
        help="model folder (with tokenizer); with --base-shape only its tokenizer")
    add("--base-shape", action="store_true", help="random weights of xlm-roberta-base's shape "
        "(vocabulary 250,002, hidden 768, 12 layers)")
    add("--data-dir", default=str(harness.DATA_DIR), help="folder with the PAN-X TSV files")
    add("--device", default="cpu", choices=("cpu", "cuda"), help="where every variant trains")
    add("--mixed-precision", default="no", choices=("no", "fp16", "bf16"),
        help="autocast precision, for every variant")
    add("--matmul-precision", default="highest", choices=("highest", "high", "medium"),
        help="float32 matrix products, for every variant (torch.set_float32_matmul_precision)")
    add("--batch-size", type=int, default=24, help="sentences per batch, for every variant")
    add("--learning-rate", type=float, default=5e-5,
        help="for every variant (the seed's 5e-5; 1e-3 suits the small model)")
    add("--warmup-ratio", type=float, default=0.0, help="for every variant")
    add("--seed", type=int, default=42, help="for every variant: the Swiss mix, order and init")
    add("--warmup-steps", type=int, default=30, help="optimizer steps before the timed window")
    add("--steps", type=int, default=150, help="steps in the timed window")
    add("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=[*TRAINERS, *OURS],
        help="what to time: the Trainer with the seed's arguments (trainer) or with "
        "group_by_length (trainer-grouped), our loop with its defaults (ours) or with the "
        "options in OURS at the top of this script changed")
    add("--f1", action="store_true",
        help="also train one full epoch of each --f1-variants and score German validation")
    add("--f1-variants", nargs="+", default=[*TRAINERS, "ours"], choices=[*TRAINERS, *OURS],
        help="the variants that --f1 trains for one epoch")
    add("--rounds", type=int, default=1,
        help="run the variants in turn this many times (every second round in reverse order) "
        "and report medians with their range; the ratios are taken within each round, whose "
        "variants run close in time, so the machine's drift cancels")
    add("--threads", type=int, default=os.cpu_count(), help="torch CPU threads in every variant")
    harness.add_results_options(parser, "--no-record")
    harness.add_child_options(parser)
    args = parser.parse_args(argv)
    if min(args.steps, args.rounds, args.batch_size) < 1 or args.warmup_steps < 0:
        parser.error("--steps, --rounds and --batch-size must be at least 1, --warmup-steps 0")
    return args


class Window:
    """Times the steps in [warmup, warmup + steps) and counts each trained batch's tokens."""

    def __init__(self, warmup: int, steps: int, cuda: bool, pad_token_id: int) -> None:
        self.warmup, self.steps, self.cuda, self.pad_token_id = warmup, steps, cuda, pad_token_id
        self.start = self.end = None
        self.batches: list[tuple] = []  # (real tokens, a 0-d tensor; computed tokens) per batch

    def on_step(self, step: int) -> None:
        if step in (self.warmup, self.warmup + self.steps):
            if self.cuda:
                import torch

                torch.cuda.synchronize()
            if step == self.warmup:
                self.start = time.perf_counter()
            else:
                self.end = time.perf_counter()

    def on_batch(self, batch) -> None:
        """Count the batch's real tokens on its own device, so the GPU is not waited for.
        Padded rows mark them in their 2-D attention mask; packed rows have a block-diagonal
        mask in which padding attends to padding, so there the pad id tells them apart."""
        mask = batch["attention_mask"]
        real = mask.sum() if mask.dim() == 2 else (batch["input_ids"] != self.pad_token_id).sum()
        self.batches.append((real, batch["input_ids"].numel()))

    def result(self, batch_size: int) -> dict:
        if self.end is None:
            raise RuntimeError(f"the run ended before step {self.warmup + self.steps}")
        seconds = self.end - self.start
        window = self.batches[self.warmup : self.warmup + self.steps]
        real, padded = sum(int(b[0]) for b in window), sum(b[1] for b in window)
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
        vocab_size=250_002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=514,
        id2label=dict(enumerate(LABEL_NAMES)), label2id={n: i for i, n in enumerate(LABEL_NAMES)},
    )  # fmt: skip
    XLMRobertaTokenClassification(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out)
    return str(out)


def run_ours(args, options: dict, window: Window | None, output_dir: str, epochs: int):
    """Our ``train`` with the shared settings and ``options``; timed through its hooks."""
    from swiss_ner.training import train

    config = harness.train_config(
        args.model, args.data_dir, output_dir, batch_size=args.batch_size,
        learning_rate=args.learning_rate, warmup_ratio=args.warmup_ratio,
        cpu=args.device == "cpu", mixed_precision=args.mixed_precision,
        matmul_precision=args.matmul_precision, num_threads=args.threads, seed=args.seed,
        save_total_limit=1, num_epochs=epochs,
        max_steps=None if window is None else window.warmup + window.steps,
        max_eval_samples=None if window is None else 1, **options,
    )  # fmt: skip
    if window is None:
        return train(config)
    return train(config, on_step=window.on_step, on_batch=window.on_batch)


def child(args) -> dict:
    """Run one variant in this process and return its measurements."""
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision(args.matmul_precision)  # the Trainer's; ours sets its own
    name, _, purpose = args.child.partition(":")
    with tempfile.TemporaryDirectory() as scratch:
        if purpose == "f1":
            if name in TRAINERS:
                return {"f1": run_trainer(args, name == "trainer-grouped", None, scratch)}
            scores = run_ours(args, OURS[name], None, scratch, epochs=1).metrics["de"]
            return {"f1": scores.f1, "f1_ci": [scores.f1_ci.low, scores.f1_ci.high]}
        pad_token_id = AutoTokenizer.from_pretrained(args.model).pad_token_id
        window = Window(args.warmup_steps, args.steps, args.device == "cuda", pad_token_id)
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        if name in TRAINERS:
            run_trainer(args, name == "trainer-grouped", window, scratch)
        else:
            run_ours(args, OURS[name], window, scratch, epochs=3)
    measured = window.result(args.batch_size)
    if args.device == "cuda":
        measured["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return measured


def device_limits(device: str, precision: str, threads: int, matmul_precision: str) -> dict:
    """The matmul rate (FLOP/s) and, on the GPU, the copy bandwidth measured on this device."""
    import torch

    torch.set_num_threads(threads)
    torch.set_float32_matmul_precision(matmul_precision)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    limits = {"matmul_flops": harness.matmul_rate(device, dtype)}
    if device == "cuda":
        source = torch.empty(2**29, device=device)  # 2 GiB
        target = torch.empty_like(source)
        seconds = harness.seconds_per_call(lambda: target.copy_(source), device, 5, 1)
        limits["bandwidth"] = 2 * source.numel() * 4 / seconds
    return limits


def physical_limit_lines(rows: dict, size: dict, limits: dict, batch: int) -> list[str]:
    """How far each variant is from the matmul rate (and, on GPU, from AdamW's memory traffic)."""
    lines = [f"- Matmul rate measured here: {limits['matmul_flops'] / 1e12:.2f} TFLOP/s."]
    for name, row in rows.items():
        layers, hidden = size["layers"], size["hidden"]
        per_token = 6 * size["non_embedding"] + 12 * layers * hidden * row["mean_padded_length"]
        useful = per_token * row["tokens_per_s"]
        lines.append(
            f"- {name}: {useful / 1e12:.3f} TFLOP/s of useful (non-padding) training "
            f"arithmetic, {100 * useful / limits['matmul_flops']:.1f}% of the matmul rate."
        )
    if "bandwidth" in limits:
        adamw_bytes = 28 * size["total"]  # read param, grad, two moments; write three
        lines.append(
            f"- AdamW moves about {adamw_bytes / 1e9:.1f} GB per step; at the measured "
            f"{limits['bandwidth'] / 1e12:.2f} TB/s that is "
            f"{1e3 * adamw_bytes / limits['bandwidth']:.1f} ms per step."
        )
        for name, row in rows.items():
            lines.append(f"- {name}: {1e3 * batch / row['samples_per_s']:.1f} ms per step.")
    return lines


def table(rows: dict, reference: str = "trainer", grouped: str = "trainer-grouped") -> list[str]:
    lines = [
        "| variant | samples/s | real tokens/s | padding | peak memory (MiB) | "
        f"vs {reference} | vs {grouped} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        if "failed" in row:
            lines.append(f"| {name} | failed: {row['failed'][:120]} | | | | | |")
            continue
        memory = row.get("peak_gpu_mib", row["peak_rss_mib"])
        ratios = [
            harness.with_range(row["ratios"][other], "{:.2f}×") if other in row["ratios"] else ""
            for other in (reference, grouped)
        ]
        lines.append(
            f"| {name} | {harness.with_range(row['each'], '{:.0f}')} | "
            f"{row['tokens_per_s']:.0f} | {100 * row['padding']:.1f}% | {memory:.0f} | "
            f"{ratios[0]} | {ratios[1]} |"
        )
    return lines


def f1_line(f1: dict) -> str:
    """F1 after one epoch per variant, and ours against the seed-args Trainer's."""
    scores = [f"{n} {v['f1']:.3f}" if "f1" in v else f"{n} failed" for n, v in f1.items()]
    against = [
        f"; {name} minus the seed-args Trainer {value['f1'] - f1['trainer']['f1']:+.3f} "
        f"({name} 95% CI {value['f1_ci'][0]:.3f}–{value['f1_ci'][1]:.3f})"
        for name, value in f1.items()
        if "f1_ci" in value and "f1" in f1.get("trainer", {})
    ]
    return (
        "F1 on German validation (Swiss subset, 6,290 sentences) after one epoch: "
        + ", ".join(scores) + "".join(against) + "."
    )  # fmt: skip


def details(args) -> list[str]:
    model = "xlm-roberta-base shape, random weights" if args.base_shape else args.model
    rounds = "" if args.rounds == 1 else (
        f"; {args.rounds} rounds, the variants in turn (every second round in reverse order): "
        "medians (and ranges), ratios taken within each round"
    )
    return [
        f"{harness.machine_description(args.device, args.threads)}; precision "
        f"{args.mixed_precision}, float32 products {args.matmul_precision}.",
        f"Model: {model}; German Swiss subset; batch {args.batch_size}; learning rate "
        f"{args.learning_rate}, warm-up ratio {args.warmup_ratio}, seed {args.seed} for every "
        f"variant; steps {args.warmup_steps}–{args.warmup_steps + args.steps} timed{rounds}.",
    ]


def measure(args, argv: list[str]) -> tuple[dict, dict, dict]:
    """Rows per variant, F1 per --f1 variant, and the model's size, each child on ``argv``."""
    from transformers import AutoConfig

    with tempfile.TemporaryDirectory() as scratch:
        if args.base_shape:
            args.model = base_shape_folder(args.model, Path(scratch) / "base-shape")
            argv = [*argv, "--model", args.model]
        rounds = harness.measure_rounds(
            args.variants, args.rounds, lambda v: harness.run_child(__file__, argv, v)
        )
        f1 = {}
        for variant in args.f1_variants if args.f1 else []:
            print(f"one epoch of {variant} for F1 ...", file=sys.stderr, flush=True)
            f1[variant] = harness.run_child(__file__, argv, f"{variant}:f1")
        size = harness.model_size(AutoConfig.from_pretrained(args.model))
    return harness.summarise_rounds(rounds, "samples_per_s", TRAINERS), f1, size


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.child:
        harness.write_child_result(args, child(args))
        return
    rows, f1, size = measure(args, argv)
    limits = device_limits(args.device, args.mixed_precision, args.threads, args.matmul_precision)
    measured = {name: row for name, row in rows.items() if "failed" not in row}
    body = table(rows) + (["", f1_line(f1)] if f1 else [])
    body += ["", "Physical limit:", *physical_limit_lines(measured, size, limits, args.batch_size)]
    harness.publish(args, "Training throughput", __file__, argv, details(args), "\n".join(body))


if __name__ == "__main__":
    main()
