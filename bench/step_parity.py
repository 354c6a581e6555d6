"""Does our loop cost more per step than the Trainer's arithmetic? One process, same model
weights at the start, the step kinds alternating in rounds so that the machine's drift cancels.

    python bench/step_parity.py --model models/xlmr-small --rounds 6

The kinds: our ``train_step`` on our CPU default batches (random, packed); our ``train_step``
on length groups of 64 batches; and the stock ``XLMRobertaForTokenClassification`` with the
plain step the ``Trainer`` runs (forward, backward, clipping, fused AdamW, schedule) on the same
length groups. It prints median ms per step (with the range over rounds), computed tokens per
step and the cost per computed token. Nothing is written to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import harness
import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", default="models/xlmr-small", help="model folder")
    parser.add_argument(
        "--data-dir", default=str(harness.DATA_DIR), help="folder with the PAN-X TSV files"
    )
    parser.add_argument("--rounds", type=int, default=6, help="rounds of every step kind")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per kind and round")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return parser.parse_args()


def step_kinds(args) -> dict:
    """name -> (a step function, an endless stream of its batches)."""
    from transformers import AutoModelForTokenClassification

    from swiss_ner.config import with_options
    from swiss_ner.constants import LABEL_NAMES
    from swiss_ner.training import (
        load_data,
        make_accelerator,
        make_loaders,
        make_optimizer,
        make_schedule,
        prepare_loop,
        resolve_batching,
        train_step,
    )

    labels = list(LABEL_NAMES)
    config = harness.train_config(
        args.model, args.data_dir, "/tmp/step-parity", learning_rate=1e-3, num_threads=args.threads
    )
    grouped = with_options(config, group_by_length=True, pack=False, length_group_size=64)
    accelerator = make_accelerator(config)
    data = load_data(config, labels)

    def endless(loader):
        while True:
            yield from loader

    def ours(cfg):
        loop = prepare_loop(cfg, accelerator, data, labels, None)
        loop.model.train()
        return (lambda batch: train_step(loop, batch)), endless(loop.train_loader)

    model = AutoModelForTokenClassification.from_pretrained(args.model, num_labels=len(labels))
    optimizer = make_optimizer(config, model)
    model, optimizer = accelerator.prepare(model, optimizer)
    scheduler, _ = make_schedule(config, optimizer, 10_000, 1)
    model.train()
    grouped_loader, _, _ = make_loaders(grouped, data, resolve_batching(grouped, "cpu", "no"))

    def plain(batch):
        accelerator.backward(model(**batch).loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    return {
        "ours, train_step, random batches packed (CPU default)": ours(config),
        "ours, train_step, length groups of 64": ours(grouped),
        "stock model, the Trainer's plain step, length groups of 64": (
            plain, endless(grouped_loader)
        ),
    }


def main() -> None:
    args = parse_args()
    kinds = step_kinds(args)
    ms = {name: [] for name in kinds}
    tokens = {name: [] for name in kinds}
    for _ in range(args.rounds):
        for name, (step, stream) in kinds.items():
            chunk = [next(stream) for _ in range(args.steps + 5)]
            for batch in chunk[:5]:  # warm the allocator and kernels for this kind's shapes
                step(batch)
            start = time.perf_counter()
            for batch in chunk[5:]:
                step(batch)
            ms[name].append(1e3 * (time.perf_counter() - start) / args.steps)
            tokens[name].append(sum(b["input_ids"].numel() for b in chunk[5:]) / args.steps)
    print(
        f"{args.rounds} rounds of {args.steps} steps per kind, {torch.get_num_threads()} "
        "threads\n\n| step | ms per step | computed tokens per step | µs per computed token |"
        "\n|---|---:|---:|---:|"
    )
    for name in kinds:
        median, count = statistics.median(ms[name]), statistics.median(tokens[name])
        print(
            f"| {name} | {harness.with_range(ms[name], '{:.1f}')} | "
            f"{count:.0f} | {1e3 * median / count:.0f} |"
        )


if __name__ == "__main__":
    main()
