"""The baseline of bench/train_throughput.py: transformers' ``Trainer`` with the arguments of
the seed (the book's), on the same German Swiss subset as our loop."""

from __future__ import annotations

from collections.abc import Callable


def run_trainer(args, grouped: bool, window, output_dir: str) -> float:
    """The Trainer with the book's arguments: timed (``window``, then NaN) or trained for one
    epoch and scored on German validation (its entity F1). ``window`` (a
    ``train_throughput.Window``) hears each optimizer step through a callback and each batch
    through the collator, which is wrapped, not patched."""
    from transformers import AutoModelForTokenClassification as Model
    from transformers import (
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from swiss_ner.constants import LABEL_NAMES
    from swiss_ner.data import build_swiss_corpus, tokenize_and_align

    corpus = build_swiss_corpus(seed=args.seed, data_dir=args.data_dir)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    max_length = min(512, tokenizer.model_max_length)
    train_set = tokenize_and_align(corpus["de"]["train"], tokenizer, max_length)
    model = Model.from_pretrained(
        args.model, num_labels=len(LABEL_NAMES), id2label=dict(enumerate(LABEL_NAMES)),
        label2id={n: i for i, n in enumerate(LABEL_NAMES)}, ignore_mismatched_sizes=True,
    )  # fmt: skip
    training_args = TrainingArguments(
        output_dir=output_dir, num_train_epochs=1 if window is None else 3,
        max_steps=-1 if window is None else window.warmup + window.steps,
        per_device_train_batch_size=args.batch_size, learning_rate=args.learning_rate,
        warmup_steps=args.warmup_ratio, weight_decay=0.01, eval_strategy="no",
        save_strategy="no", logging_steps=10**9, report_to="none", use_cpu=args.device == "cpu",
        bf16=args.mixed_precision == "bf16", fp16=args.mixed_precision == "fp16", seed=args.seed,
        disable_tqdm=True, train_sampling_strategy="group_by_length" if grouped else "random",
    )  # fmt: skip
    collator = DataCollatorForTokenClassification(tokenizer)

    class Timing(TrainerCallback):
        def on_step_end(self, _args, state, control, **kwargs):
            window.on_step(state.global_step)

    trainer = Trainer(
        model=model, args=training_args, train_dataset=train_set.remove_columns("cut_entities"),
        data_collator=collator if window is None else counting(collator, window.on_batch),
        callbacks=[] if window is None else [Timing()],
    )  # fmt: skip
    trainer.train()
    if window is not None:
        return float("nan")
    validation = tokenize_and_align(corpus["de"]["validation"], tokenizer, max_length)
    return trainer_f1(trainer.predict(validation.remove_columns("cut_entities")))


def trainer_f1(output) -> float:
    """Entity F1 of the Trainer's predictions, on each word's first piece."""
    import numpy as np
    import torch

    from swiss_ner.constants import LABEL_NAMES
    from swiss_ner.evaluation import score_tags, word_tags
    from swiss_ner.metrics import load_seqeval

    predicted, gold = word_tags(
        torch.as_tensor(np.argmax(output.predictions, -1)),
        torch.as_tensor(output.label_ids),
        dict(enumerate(LABEL_NAMES)),
    )
    return score_tags(predicted, gold, load_seqeval(), ["PER", "ORG", "LOC"]).f1


def counting(collator: Callable, on_batch: Callable[[dict], None]) -> Callable:
    """``collator``, reporting each batch it makes to ``on_batch``."""

    def collate(features):
        batch = collator(features)
        on_batch(batch)
        return batch

    return collate
