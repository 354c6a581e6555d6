"""Where a training step's time goes: forward, loss, backward, clipping, AdamW, per phase and
per operator (torch.profiler), on the loop's own prepared pieces.

    python bench/profile_train_step.py --model models/xlmr-small
    python bench/profile_train_step.py --no-profiler --steps 200 \
        --matmul-precision medium --pad-to 8

It prints a phase table and the operators with the most self time, for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import defaultdict

import harness
import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/xlmr-small", help="model folder")
    parser.add_argument(
        "--data-dir", default=str(harness.DATA_DIR), help="folder with the PAN-X TSV files"
    )
    parser.add_argument("--steps", type=int, default=100, help="steps measured, after 10 more")
    parser.add_argument(
        "--mixed-precision", default="no", choices=("no", "bf16"), help="autocast precision"
    )
    parser.add_argument(
        "--matmul-precision",
        default="highest",
        choices=("highest", "high", "medium"),
        help="float32 matrix products (torch.set_float32_matmul_precision)",
    )
    parser.add_argument("--pad-to", type=int, default=None, help="pad batches to a multiple")
    parser.add_argument(
        "--no-profiler",
        action="store_true",
        help="time the phases only (the profiler inflates short operators)",
    )
    return parser.parse_args()


def prepared(args):
    """Model, optimizer, scheduler and batches exactly as ``train`` prepares them."""
    from swiss_ner.constants import LABEL_NAMES
    from swiss_ner.training import load_data, make_accelerator, prepare_loop

    config = harness.train_config(
        args.model,
        args.data_dir,
        "/tmp/profile-run",
        mixed_precision=args.mixed_precision,
        matmul_precision=args.matmul_precision,
        pad_to=args.pad_to,
    )
    accelerator = make_accelerator(config)
    data = load_data(config, list(LABEL_NAMES))
    loop = prepare_loop(config, accelerator, data, list(LABEL_NAMES), None)
    return config, accelerator, loop.model, loop.optimizer, loop.scheduler, loop.train_loader


def main() -> None:
    args = parse_args()
    config, accelerator, model, optimizer, scheduler, loader = prepared(args)
    phases: dict[str, float] = defaultdict(float)
    batches = iter(loader)
    model.train()

    def timed(name: str, work):
        start = time.perf_counter()
        result = work()
        phases[name] += time.perf_counter() - start
        return result

    shapes = set()

    def step() -> None:
        batch = timed("collate", lambda: next(batches))
        shapes.add(tuple(batch["input_ids"].shape))
        with accelerator.autocast():
            outputs = timed("forward + loss", lambda: model(**batch))
        timed("backward", lambda: accelerator.backward(outputs.loss))
        timed("clip", lambda: accelerator.clip_grad_norm_(model.parameters(), 1.0))
        timed("AdamW", optimizer.step)
        timed(
            "schedule + zero_grad",
            lambda: (scheduler.step(), optimizer.zero_grad(set_to_none=True)),
        )

    for _ in range(10):
        step()
    phases.clear()
    shapes.clear()
    profiler = (
        contextlib.nullcontext()
        if args.no_profiler
        else torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    )
    with profiler:
        for _ in range(args.steps):
            step()
    total = sum(phases.values())
    print(
        f"Per step over {args.steps} steps (batch {config.batching.batch_size}, "
        f"{torch.get_num_threads()} threads, precision {args.mixed_precision}, float32 "
        f"products {args.matmul_precision}, padded to {args.pad_to or 1}, {len(shapes)} "
        f"distinct batch shapes), profiler {'off' if args.no_profiler else 'on'}: "
        f"{1e3 * total / args.steps:.1f} ms\n"
    )
    print("| phase | ms per step | share |\n|---|---:|---:|")
    for name, seconds in phases.items():
        print(f"| {name} | {1e3 * seconds / args.steps:.1f} | {100 * seconds / total:.0f}% |")
    if not args.no_profiler:
        print("\nOperators with the most self CPU time:\n")
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
