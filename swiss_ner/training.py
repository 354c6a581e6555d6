"""The Accelerate training loop: prepare, train, evaluate per language, checkpoint, save.

It reads top to bottom like accelerate's ``nlp_example.py``; each feature (mixed precision,
gradient accumulation, trackers, checkpoints, resuming) is a small visible addition.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoTokenizer, DataCollatorForTokenClassification, get_scheduler

from swiss_ner.config import TrainConfig
from swiss_ner.data import (
    LABEL_NAMES,
    build_swiss_corpus,
    concatenate_languages,
    continuation_label_map,
    count_entities,
    tokenize_and_align,
)
from swiss_ner.hub import HubPushError, push_to_hub
from swiss_ner.metrics import load_seqeval, predictions_to_tags
from swiss_ner.metrics.whole_words import PieceKind, piece_kinds, whole_word_groups
from swiss_ner.model_card import write_model_card
from swiss_ner.modeling import build_model

logger = get_logger(__name__)

CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"
STATE_FILE = "training_state.json"


@dataclass
class TrainingState:
    """Where the loop stands; saved inside each checkpoint so a resume starts at the next step."""

    epoch: int = 0
    batches_done_in_epoch: int = 0
    completed_steps: int = 0

    def save(self, folder: Path) -> None:
        (folder / STATE_FILE).write_text(json.dumps(self.__dict__) + "\n")

    @classmethod
    def load(cls, folder: Path) -> TrainingState:
        return cls(**json.loads((folder / STATE_FILE).read_text()))


def find_checkpoint(output_dir: str | Path, resume_from: str) -> Path:
    """The checkpoint folder to resume from: a path, or ``latest`` (most steps) in output_dir."""
    if resume_from != "latest":
        folder = Path(resume_from)
        if not (folder / STATE_FILE).exists():
            raise FileNotFoundError(f"{folder} is not a swiss-ner checkpoint (no {STATE_FILE})")
        return folder
    candidates = [p.parent for p in (Path(output_dir) / CHECKPOINTS_DIR).glob(f"*/{STATE_FILE}")]
    if not candidates:
        raise FileNotFoundError(
            f"--resume-from latest: no checkpoint in {output_dir}/{CHECKPOINTS_DIR}"
        )
    return max(candidates, key=lambda p: TrainingState.load(p).completed_steps)


def optimizer_grouped_parameters(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: weight decay on weights, none on biases and LayerNorm weights."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    decay, skip = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (skip if any(nd in name for nd in no_decay) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": skip, "weight_decay": 0.0}]


def continuation_token_mask(tokenizer) -> torch.Tensor | None:
    """True for vocabulary pieces that continue a word (no ``▁`` prefix, not special).

    None for tokenizers that do not mark word starts with ``▁`` (SentencePiece style)."""
    kinds = piece_kinds(tokenizer)
    return None if kinds is None else kinds == PieceKind.CONTINUATION


def word_consistency_loss(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    continuation: torch.Tensor,
    continuation_map: torch.Tensor,
) -> torch.Tensor:
    """Pull each continuation piece's tag distribution onto its predecessor's (B-X read as I-X).

    The stock pipeline's ``simple`` aggregation groups sub-words by their own argmax, so pieces
    of one word that disagree become fragments; this makes the pieces of a word agree.
    """
    is_continuation = continuation[input_ids[:, 1:]]
    if not is_continuation.any():
        return logits.new_zeros(())
    previous = logits[:, :-1][is_continuation].float().softmax(-1)
    previous_as_inside = torch.zeros_like(previous).index_add_(1, continuation_map, previous)
    current = logits[:, 1:][is_continuation].float().log_softmax(-1)
    return torch.nn.functional.kl_div(current, previous_as_inside, reduction="batchmean")


def evaluate_language(
    model: torch.nn.Module,
    dataloader: DataLoader,
    accelerator: Accelerator,
    id2label: dict[int, str],
    metric,
    desc: str = "eval",
    kinds: torch.Tensor | None = None,
    continuation_map: torch.Tensor | None = None,
) -> dict:
    """Entity-level scores on one evaluation set, gathered across processes without duplicates.

    Labels here mark only each word's first sub-word, so scores count words, never sub-words.
    With ``kinds`` (:func:`piece_kinds`) and ``continuation_map`` it also measures how often a
    continuation piece predicts its predecessor's tag (B- read as I-), and re-forms the groups
    that the stock pipeline's ``simple`` aggregation returns to count those that are whole words.
    """
    model.eval()
    num_sentences = 0
    agreeing, continuation_pieces = 0, 0
    whole_groups, all_groups = 0, 0
    kind_of = kinds.tolist() if kinds is not None else None
    continuation = kinds == PieceKind.CONTINUATION if kinds is not None else None
    for batch in tqdm(
        dataloader, desc=desc, disable=not accelerator.is_local_main_process, leave=False
    ):
        with torch.no_grad():
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
        predictions = accelerator.pad_across_processes(logits.argmax(dim=-1), dim=1, pad_index=-100)
        labels = accelerator.pad_across_processes(batch["labels"], dim=1, pad_index=-100)
        input_ids = accelerator.pad_across_processes(batch["input_ids"], dim=1, pad_index=-100)
        predictions, labels, input_ids = accelerator.gather_for_metrics(
            (predictions, labels, input_ids)
        )
        num_sentences += labels.shape[0]
        if continuation is not None:
            is_continuation = continuation[input_ids[:, 1:].clamp(min=0)] & (input_ids[:, 1:] >= 0)
            expected = continuation_map[predictions[:, :-1].clamp(min=0)]
            agreeing += int((expected == predictions[:, 1:])[is_continuation].sum())
            continuation_pieces += int(is_continuation.sum())
        if kind_of is not None:
            for sentence_ids, sentence_predictions in zip(
                input_ids.tolist(), predictions.tolist(), strict=True
            ):
                positions = [
                    i for i, token in enumerate(sentence_ids) if token >= 0 and kind_of[token]
                ]
                whole, groups = whole_word_groups(
                    [id2label[sentence_predictions[i]] for i in positions],
                    [kind_of[sentence_ids[i]] for i in positions],
                )
                whole_groups += whole
                all_groups += groups
        predicted_tags, gold_tags = predictions_to_tags(
            predictions.cpu().numpy(), labels.cpu().numpy(), id2label
        )
        metric.add_batch(predictions=predicted_tags, references=gold_tags)
    scores = metric.compute()
    model.train()
    per_type = {k: v for k, v in scores.items() if isinstance(v, dict)}
    results = {
        "precision": float(scores["overall_precision"]),
        "recall": float(scores["overall_recall"]),
        "f1": float(scores["overall_f1"]),
        "accuracy": float(scores["overall_accuracy"]),
        "num_sentences": num_sentences,
        "per_type": {
            entity: {k: float(v) if k != "number" else int(v) for k, v in values.items()}
            for entity, values in sorted(per_type.items())
        },
    }
    if continuation_pieces:
        results["subword_agreement"] = agreeing / continuation_pieces
    if all_groups:
        results["whole_word_groups"] = whole_groups / all_groups
        results["simple_groups"] = all_groups
    return results


def library_versions() -> dict[str, str]:
    import accelerate
    import datasets
    import transformers

    import swiss_ner

    return {
        "swiss_ner": swiss_ner.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
    }


def _tracker_config(config: TrainConfig) -> dict:
    """TensorBoard's hparams accept scalars only: lists become strings, None is dropped."""
    flat = {}
    for key, value in config.to_dict().items():
        if isinstance(value, list):
            value = " ".join(map(str, value))
        if value is not None:
            flat[key] = value
    return flat


def train(config: TrainConfig) -> dict:
    """Fine-tune on ``config.train_langs``, evaluate on ``config.eval_langs``, save everything.

    Returns the results dictionary also written to ``<output_dir>/results.json``.
    """
    config.validate()
    output_dir = Path(config.output_dir)
    log_with = None if config.report_to == "none" else config.report_to
    # Accelerate only forms a CPU process group (gloo) when asked for the CPU explicitly.
    launched_without_gpu = "LOCAL_RANK" in os.environ and not torch.cuda.is_available()
    accelerator = Accelerator(
        cpu=config.cpu or launched_without_gpu,
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        log_with=log_with,
        project_config=ProjectConfiguration(
            project_dir=str(output_dir), logging_dir=str(output_dir / LOGS_DIR)
        ),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(config.seed)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()

    # Data: the Swiss mix, the training languages concatenated, one evaluation set per language.
    label_names = config.label_names or LABEL_NAMES
    with accelerator.main_process_first():
        corpus = build_swiss_corpus(
            config.langs, config.fracs, config.seed, config.data_dir, label_names=label_names
        )
        train_set = concatenate_languages(corpus, config.train_langs, "train", config.seed)
        if config.max_train_samples is not None:
            train_set = train_set.select(range(min(config.max_train_samples, train_set.num_rows)))
        eval_sets = {}
        for lang in config.eval_langs:
            if config.eval_split not in corpus[lang]:
                raise ValueError(f"no {config.eval_split!r} split for {lang!r}")
            eval_set = corpus[lang][config.eval_split]
            if config.max_eval_samples is not None:
                eval_set = eval_set.select(range(min(config.max_eval_samples, eval_set.num_rows)))
            eval_sets[lang] = eval_set

        tokenizer = AutoTokenizer.from_pretrained(config.model_name_or_path)
        max_length = min(config.max_length, tokenizer.model_max_length)
        train_encoded = tokenize_and_align(
            train_set, tokenizer, max_length, label_all_tokens=config.label_all_tokens
        )
        eval_encoded = {
            lang: tokenize_and_align(ds, tokenizer, max_length, label_all_tokens=False)
            for lang, ds in eval_sets.items()
        }

    model = build_model(config.model_name_or_path, label_names)
    id2label = {int(i): label for i, label in model.config.id2label.items()}

    kinds = piece_kinds(tokenizer)
    continuation = None
    if kinds is not None:
        kinds = kinds.to(accelerator.device)
        continuation = kinds == PieceKind.CONTINUATION
    continuation_map = torch.tensor(continuation_label_map(label_names), device=accelerator.device)
    pad_multiple = 8 if accelerator.mixed_precision != "no" else None
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_multiple)
    # Its own generator keeps DataLoader start-up from drawing on the global RNG, so a resumed
    # run sees the same dropout masks as an uninterrupted one.
    train_loader = DataLoader(
        train_encoded,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
        batch_size=config.batch_size,
        collate_fn=collator,
        num_workers=config.num_workers,
    )
    eval_loaders = {
        lang: DataLoader(ds, batch_size=config.eval_batch_size, collate_fn=collator)
        for lang, ds in eval_encoded.items()
    }

    optimizer = torch.optim.AdamW(
        optimizer_grouped_parameters(model, config.weight_decay), lr=config.learning_rate
    )
    model, optimizer, train_loader, *eval_loader_list = accelerator.prepare(
        model, optimizer, train_loader, *eval_loaders.values()
    )
    eval_loaders = dict(zip(eval_loaders, eval_loader_list, strict=True))

    # Steps are counted after sharding, so they are per process and per optimizer update.
    steps_per_epoch = math.ceil(len(train_loader) / config.gradient_accumulation_steps)
    total_steps = config.max_steps or steps_per_epoch * config.num_epochs
    num_epochs = math.ceil(total_steps / steps_per_epoch)
    # The prepared scheduler steps once per process on every update, hence the factor.
    scheduler = get_scheduler(
        "linear",
        optimizer=optimizer,
        num_warmup_steps=int(config.warmup_ratio * total_steps) * accelerator.num_processes,
        num_training_steps=total_steps * accelerator.num_processes,
    )
    scheduler = accelerator.prepare(scheduler)
    accelerator.register_for_checkpointing(scheduler)

    if log_with:
        accelerator.init_trackers("swiss-ner", config=_tracker_config(config))

    state = TrainingState()
    if config.resume_from:
        checkpoint = find_checkpoint(output_dir, config.resume_from)
        accelerator.print(f"Resuming from {checkpoint}")
        accelerator.load_state(str(checkpoint))
        state = TrainingState.load(checkpoint)

    def save_checkpoint(name: str) -> None:
        folder = output_dir / CHECKPOINTS_DIR / name
        accelerator.save_state(str(folder))
        if accelerator.is_main_process:
            state.save(folder)
        accelerator.wait_for_everyone()

    accelerator.print(
        f"Training on {', '.join(config.train_langs)}: {train_set.num_rows} sentences, "
        f"{total_steps} steps ({num_epochs} epochs of {steps_per_epoch}), "
        f"{accelerator.num_processes} process(es), mixed precision {accelerator.mixed_precision}"
    )
    progress = tqdm(
        total=total_steps,
        initial=state.completed_steps,
        desc="train",
        disable=not accelerator.is_local_main_process,
    )
    history: list[dict] = []
    metric = load_seqeval()

    def evaluate_all() -> dict[str, dict]:
        return {
            lang: evaluate_language(
                model,
                loader,
                accelerator,
                id2label,
                metric,
                f"eval {lang}",
                kinds,
                continuation_map,
            )
            for lang, loader in eval_loaders.items()
        }

    last_scores: dict[str, dict] = {}
    start_time = time.perf_counter()
    model.train()
    for epoch in range(state.epoch, num_epochs):
        state.epoch = epoch
        train_loader.set_epoch(epoch)
        batches = train_loader
        if state.batches_done_in_epoch:
            batches = accelerator.skip_first_batches(train_loader, state.batches_done_in_epoch)
        running_loss, running_batches = 0.0, 0
        for batch in batches:
            with accelerator.accumulate(model):
                outputs = model(**batch)
                loss = outputs.loss
                if config.consistency_weight and continuation is not None:
                    loss = loss + config.consistency_weight * word_consistency_loss(
                        outputs.logits, batch["input_ids"], continuation, continuation_map
                    )
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            state.batches_done_in_epoch += 1
            running_loss += loss.detach().float().item()
            running_batches += 1
            if not accelerator.sync_gradients:
                continue
            state.completed_steps += 1
            progress.update(1)
            mean_loss = running_loss / running_batches
            progress.set_postfix(loss=f"{mean_loss:.4f}")
            accelerator.log(
                {"train/loss": loss.item(), "train/lr": scheduler.get_last_lr()[0]},
                step=state.completed_steps,
            )
            if (
                config.checkpointing_steps
                and state.completed_steps % config.checkpointing_steps == 0
            ):
                save_checkpoint(f"step_{state.completed_steps}")
            if state.completed_steps >= total_steps:
                break

        last_scores = evaluate_all()
        f1_by_lang = {lang: scores["f1"] for lang, scores in last_scores.items()}
        accelerator.log(
            {f"eval/f1_{lang}": f1 for lang, f1 in f1_by_lang.items()}, step=state.completed_steps
        )
        epoch_loss = running_loss / max(running_batches, 1)
        history.append(
            {
                "epoch": epoch + 1,
                "step": state.completed_steps,
                "train_loss": epoch_loss,
                "f1": f1_by_lang,
            }
        )
        accelerator.print(
            f"epoch {epoch + 1}: train loss {epoch_loss:.4f}, F1 "
            + ", ".join(f"{lang} {f1:.3f}" for lang, f1 in f1_by_lang.items())
            + "".join(
                f"; sub-word agreement {lang} {scores['subword_agreement']:.3f}"
                for lang, scores in list(last_scores.items())[:1]
                if "subword_agreement" in scores
            )
            + (
                "; whole-word entity groups (widget) "
                + ", ".join(
                    f"{lang} {scores['whole_word_groups']:.3f}"
                    for lang, scores in last_scores.items()
                )
                if all("whole_word_groups" in scores for scores in last_scores.values())
                else ""
            )
        )
        state.epoch, state.batches_done_in_epoch = epoch + 1, 0
        save_checkpoint(f"epoch_{epoch + 1}")
        if state.completed_steps >= total_steps:
            break
    progress.close()
    train_time = time.perf_counter() - start_time

    # The last epoch's evaluation is the final one, unless a resume found no epoch left to run.
    final_metrics = last_scores or evaluate_all()
    results = {
        "config": config.to_dict(),
        "train_langs": list(config.train_langs),
        "eval_langs": list(config.eval_langs),
        "zero_shot_langs": [lang for lang in config.eval_langs if lang not in config.train_langs],
        "eval_split": config.eval_split,
        "metrics": final_metrics,
        "dataset": {
            "source": config.data_dir or "google/xtreme",
            "fracs": dict(zip(config.langs, config.fracs, strict=True)),
            "train_sentences": train_set.num_rows,
            "sizes": {
                lang: {s: ds.num_rows for s, ds in dd.items()} for lang, dd in corpus.items()
            },
            "entity_counts": {
                lang: {s: count_entities(ds) for s, ds in dd.items()} for lang, dd in corpus.items()
            },
        },
        "history": history,
        "train_time_s": round(train_time, 2),
        "train_steps": state.completed_steps,
        "num_processes": accelerator.num_processes,
        "mixed_precision": str(accelerator.mixed_precision),
        "versions": library_versions(),
    }

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.save_pretrained(
        output_dir, is_main_process=accelerator.is_main_process, save_function=accelerator.save
    )
    if accelerator.is_main_process:
        tokenizer.save_pretrained(output_dir)
        (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        config.save(output_dir / "train_config.json")
        write_model_card(output_dir, repo_id=config.hub_model_id)
        accelerator.print(
            f"Saved model, tokenizer and results.json to {output_dir} "
            f"(train time {train_time / 60:.1f} min)"
        )
    accelerator.wait_for_everyone()
    if config.push_to_hub:
        try:
            push_to_hub(
                output_dir, config.hub_model_id, private=config.hub_private, accelerator=accelerator
            )
        except HubPushError as error:
            accelerator.print(f"Push failed, local folder kept: {error}")
    accelerator.end_training()
    return results
