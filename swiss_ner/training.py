"""The Accelerate training loop: ``train()`` orchestrates named steps, ``fit()`` is the loop.

``train`` reads top to bottom like accelerate's ``nlp_example.py``: accelerator, data, model,
optimiser and schedule, resume, fit, evaluate, save, push. ``fit`` keeps the running loss on the
device and synchronises with the host only when it logs, checkpoints or stops.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import (
    DataLoaderConfiguration,
    ProjectConfiguration,
    TorchDynamoPlugin,
    set_seed,
)
from datasets import Dataset
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import DataCollatorForTokenClassification, get_scheduler

from swiss_ner import checkpoints as ckpt
from swiss_ner.config import ConfigError, TrainConfig
from swiss_ner.constants import LABEL_NAMES, entity_types
from swiss_ner.data import (
    LengthGroupedBatchSampler,
    PackingCollator,
    build_swiss_corpus,
    concatenate_languages,
    continuation_label_map,
    count_entities,
    tokenize_and_align,
    truncation_counts,
)
from swiss_ner.evaluation import PieceKind, evaluate_language, piece_kinds
from swiss_ner.metrics import load_seqeval
from swiss_ner.modeling import build_model, load_tokenizer
from swiss_ner.results import (
    DatasetInfo,
    EpochRecord,
    LanguageScores,
    RunResults,
    describe_batching,
)

LOGS_DIR = "logs"


class TrainingError(RuntimeError):
    """A run that cannot give a right model; the message says what happened and what to do."""


def run(config: TrainConfig) -> int:
    """The ``swiss-ner train`` command."""
    train(config)
    return 0


def make_accelerator(config: TrainConfig) -> Accelerator:
    """Accelerator with trackers and seedable sampling; CPU threads set to every core, and the
    precision of float32 matrix products set for the process."""
    # Accelerate forms a CPU process group (gloo) only when asked for the CPU explicitly.
    launched_without_gpu = "LOCAL_RANK" in os.environ and not torch.cuda.is_available()
    accelerator = Accelerator(
        cpu=config.cpu or launched_without_gpu,
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        log_with=None if config.report_to == "none" else config.report_to,
        project_config=ProjectConfiguration(
            project_dir=config.output_dir, logging_dir=str(Path(config.output_dir) / LOGS_DIR)
        ),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        # Compiled last in `prepare`, around the mixed-precision wrapper; dynamic shapes, so
        # that batches of a new length reuse the graph instead of compiling again.
        dynamo_plugin=None if config.compile == "no" else TorchDynamoPlugin(
            backend="inductor", mode=config.compile, dynamic=True
        ),
    )
    torch.set_float32_matmul_precision(config.matmul_precision)
    if accelerator.device.type == "cpu":
        # `accelerate launch` pins CPU runs to one thread; share the cores between processes.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        per_process = max(1, (cores or 1) // accelerator.num_processes)
        torch.set_num_threads(config.num_threads or per_process)
    return accelerator


@dataclass
class TrainingData:
    """Tokenised training and evaluation sets, and what the run record says about them."""

    tokenizer: object
    train: Dataset
    eval_sets: dict[str, Dataset]
    test_sets: dict[str, Dataset]
    info: DatasetInfo
    truncated: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


def _encode(
    dataset: Dataset, tokenizer, config: TrainConfig, label_all: bool
) -> tuple[Dataset, tuple[int, int]]:
    max_length = min(config.max_length, tokenizer.model_max_length)
    encoded = tokenize_and_align(dataset, tokenizer, max_length, label_all)
    return encoded.remove_columns("cut_entities"), truncation_counts(encoded)


def _by_length(dataset: Dataset) -> Dataset:
    """Evaluation sets sorted by length: batches pad little, and scores do not depend on order."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    return dataset.select(sorted(range(len(lengths)), key=lengths.__getitem__))


def load_data(config: TrainConfig, label_names: list[str]) -> TrainingData:
    """The Swiss mix, tokenised: the training languages concatenated, evaluation per language."""
    corpus = build_swiss_corpus(
        config.langs, config.fracs, config.seed, config.data_dir, label_names=label_names
    )
    train_set = concatenate_languages(corpus, config.train_langs, "train", config.seed)
    if config.max_train_samples is not None:
        train_set = train_set.select(range(min(config.max_train_samples, train_set.num_rows)))
    tokenizer = load_tokenizer(config.model_name_or_path)
    train_encoded, train_cut = _encode(train_set, tokenizer, config, config.label_all_tokens)
    sets: dict[str, dict[str, Dataset]] = {config.eval_split: {}, "test": {}}
    truncated: dict[str, dict[str, tuple[int, int]]] = {config.eval_split: {}, "test": {}}
    for lang in config.eval_langs:
        for split in dict.fromkeys([config.eval_split, "test"]):
            if split not in corpus[lang]:
                if split == config.eval_split:
                    raise ConfigError(f"--eval-split: no {split!r} split for {lang!r}")
                continue
            dataset = corpus[lang][split]
            if config.max_eval_samples is not None:
                dataset = dataset.select(range(min(config.max_eval_samples, dataset.num_rows)))
            encoded, truncated[split][lang] = _encode(dataset, tokenizer, config, False)
            sets[split][lang] = _by_length(encoded)
    info = DatasetInfo(
        source=config.data_dir or "google/xtreme",
        fracs=dict(zip(config.langs, config.fracs, strict=True)),
        train_sentences=train_set.num_rows,
        sizes={lang: {s: ds.num_rows for s, ds in dd.items()} for lang, dd in corpus.items()},
        entity_counts={
            lang: {s: count_entities(ds) for s, ds in dd.items()} for lang, dd in corpus.items()
        },
        truncated_train_sentences=train_cut[0],
    )
    test_sets = sets["test"] if config.eval_split != "test" else {}
    return TrainingData(tokenizer, train_encoded, sets[config.eval_split], test_sets, info,
                        truncated)


def make_loaders(
    config: TrainConfig, data: TrainingData, pad_to: int | None
) -> tuple[DataLoader, dict[str, DataLoader], dict[str, DataLoader]]:
    """Training batches (length-grouped or shuffled) and evaluation batches per language."""
    collator = DataCollatorForTokenClassification(data.tokenizer, pad_to_multiple_of=pad_to)
    # Its own generator keeps each epoch's start from drawing on the global RNG, so a resumed
    # run sees the same dropout masks as an uninterrupted one.
    generator = torch.Generator().manual_seed(config.seed)
    if config.group_by_length:
        lengths = [len(ids) for ids in data.train["input_ids"]]
        batching = {"batch_sampler": LengthGroupedBatchSampler(
            lengths, config.batch_size, config.seed, config.length_group_size
        )}
    else:
        batching = {"shuffle": True, "batch_size": config.batch_size}
    train_collator = (
        PackingCollator(data.tokenizer.pad_token_id, pad_to) if config.pack else collator
    )
    train_loader = DataLoader(data.train, generator=generator, collate_fn=train_collator,
                              num_workers=config.num_workers, **batching)

    def eval_loaders(sets: dict[str, Dataset]) -> dict[str, DataLoader]:
        return {
            lang: DataLoader(ds, batch_size=config.eval_batch_size, collate_fn=collator)
            for lang, ds in sets.items()
        }

    return train_loader, eval_loaders(data.eval_sets), eval_loaders(data.test_sets)


def make_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.AdamW:
    """AdamW with weight decay on weights only (not biases and LayerNorm), fused by default."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    decay, skip = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (skip if any(nd in name for nd in no_decay) else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": skip, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=config.fused_adamw or None)


@dataclass
class Schedule:
    """How long the run is, in optimizer steps per process."""

    steps_per_epoch: int
    total_steps: int
    num_epochs: int


def make_schedule(config: TrainConfig, optimizer, batches_per_epoch: int, processes: int):
    """The step counts and a linear schedule with warm-up over them."""
    steps_per_epoch = math.ceil(batches_per_epoch / config.gradient_accumulation_steps)
    if steps_per_epoch < 1:
        raise ConfigError("no training batches: the training set is empty")
    total = config.max_steps or steps_per_epoch * config.num_epochs
    plan = Schedule(steps_per_epoch, total, math.ceil(total / steps_per_epoch))
    # The prepared scheduler steps once per process on every update, hence the factor.
    scheduler = get_scheduler(
        "linear",
        optimizer=optimizer,
        num_warmup_steps=int(config.warmup_ratio * total) * processes,
        num_training_steps=total * processes,
    )
    return scheduler, plan


def word_consistency_loss(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    continuation: torch.Tensor,
    continuation_map: torch.Tensor,
) -> torch.Tensor:
    """Pull each continuation piece's tag distribution onto its predecessor's (B-X read as I-X).

    The stock pipeline's ``simple`` aggregation groups sub-words by their own argmax, so pieces
    of one word that disagree become fragments; this makes the pieces of a word agree. It is
    written without boolean indexing, so it never waits for the device to count pieces.
    """
    is_continuation = continuation[input_ids[:, 1:]].unsqueeze(-1).float()
    previous = logits[:, :-1].float().softmax(-1)
    previous_as_inside = torch.zeros_like(previous).index_add_(-1, continuation_map, previous)
    current = logits[:, 1:].float().log_softmax(-1)
    per_piece = torch.nn.functional.kl_div(current, previous_as_inside, reduction="none")
    return (per_piece * is_continuation).sum() / is_continuation.sum().clamp(min=1)


class Evaluator:
    """Scores every language of a set of loaders with the model in its current state."""

    def __init__(self, model, accelerator, tokenizer, label_names: list[str], data: TrainingData):
        self.model, self.accelerator, self.data = model, accelerator, data
        self.id2label = dict(enumerate(label_names))
        self.types = entity_types(label_names)
        self.metric = load_seqeval()
        kinds = piece_kinds(tokenizer)
        self.kinds = None if kinds is None else kinds.to(accelerator.device)
        self.continuation_map = torch.tensor(
            continuation_label_map(label_names), device=accelerator.device
        )

    @property
    def continuation(self) -> torch.Tensor | None:
        return None if self.kinds is None else self.kinds == PieceKind.CONTINUATION

    def __call__(self, loaders: dict[str, DataLoader], split: str) -> dict[str, LanguageScores]:
        scores = {}
        for lang, loader in loaders.items():
            result = evaluate_language(
                self.model, loader, self.accelerator, self.id2label, self.metric, self.types,
                self.kinds, self.continuation_map, f"{split} {lang}",
            )
            result.truncated_sentences, result.truncated_entities = self.data.truncated[split][lang]
            scores[lang] = result
        return scores


class StopRequest:
    """Turns SIGTERM/SIGINT into a flag the loop reads at the next step boundary."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.previous[sig] = signal.signal(sig, self._request)
            except ValueError:  # not the main thread: leave signals alone
                pass

    def _request(self, signum, frame) -> None:
        self.signal = signum

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


@dataclass
class Loop:
    """The prepared pieces ``fit`` works with."""

    config: TrainConfig
    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    train_loader: DataLoader
    eval_loaders: dict[str, DataLoader]
    evaluate: Evaluator
    plan: Schedule
    output_dir: Path
    test_loaders: dict[str, DataLoader] = field(default_factory=dict)
    on_step: Callable[[int], None] | None = None  # called after each optimizer step (timing)
    batching: dict[str, bool] = field(default_factory=dict)  # device defaults resolved


def train_step(loop: Loop, batch: dict) -> torch.Tensor:
    """One forward and backward pass (an optimizer step when the accumulation is complete)."""
    config, accelerator, model = loop.config, loop.accelerator, loop.model
    if config.compile == "reduce-overhead":
        torch.compiler.cudagraph_mark_step_begin()  # last step's graph outputs are done with
    with accelerator.accumulate(model):
        outputs = model(**batch)
        loss = outputs.loss
        continuation = loop.evaluate.continuation
        if config.consistency_weight and continuation is not None:
            loss = loss + config.consistency_weight * word_consistency_loss(
                outputs.logits, batch["input_ids"], continuation, loop.evaluate.continuation_map
            )
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        loop.optimizer.step()
        loop.scheduler.step()
        loop.optimizer.zero_grad(set_to_none=True)
    return loss.detach().float()


class LossMonitor:
    """The running loss on the device; read (one host sync) only when logging or saving."""

    def __init__(self, device: torch.device, state: ckpt.TrainingState) -> None:
        self.window = torch.zeros((), device=device)
        self.window_batches = 0
        self.epoch = torch.tensor(state.epoch_loss_sum, device=device)
        self.first_bad_step = torch.zeros((), dtype=torch.long, device=device)

    def add(self, loss: torch.Tensor, step: int) -> None:
        self.window += loss
        self.epoch += loss
        self.window_batches += 1
        bad = ~torch.isfinite(loss) & (self.first_bad_step == 0)
        self.first_bad_step = torch.where(bad, step, self.first_bad_step)

    def check_finite(self, output_dir: Path) -> None:
        bad = int(self.first_bad_step)
        if bad:
            kept = ckpt.list_checkpoints(output_dir)
            last = f"; last good checkpoint: {kept[-1][1]}" if kept else ""
            raise TrainingError(
                f"the loss became non-finite (NaN or inf) at step {bad}; lower --learning-rate "
                f"or raise --warmup-ratio{last}"
            )

    def take_window(self, accelerator) -> float:
        """Mean loss since the last call, averaged across processes."""
        mean = accelerator.reduce(self.window / max(self.window_batches, 1), reduction="mean")
        self.window.zero_()
        self.window_batches = 0
        return float(mean)


def save_point(loop: Loop, state: ckpt.TrainingState, losses: LossMonitor, started: float):
    """Bring the host-side state up to date and write a checkpoint of the run so far."""
    losses.check_finite(loop.output_dir)
    state.epoch_loss_sum = float(losses.epoch)
    state.elapsed_s += time.perf_counter() - started
    ckpt.save_checkpoint(loop.accelerator, loop.output_dir, state, loop.config.save_total_limit)
    return time.perf_counter()


def end_epoch(
    loop: Loop, state: ckpt.TrainingState, losses: LossMonitor, finished: bool
) -> dict[str, LanguageScores]:
    """Evaluate, log and record the epoch that just ended (or stopped, when not ``finished``)."""
    scores = loop.evaluate(loop.eval_loaders, loop.config.eval_split)
    f1 = {lang: s.f1 for lang, s in scores.items()}
    epoch_loss = float(losses.epoch) / max(state.epoch_batches, 1)
    loop.accelerator.log({f"eval/f1_{lang}": v for lang, v in f1.items()},
                         step=state.completed_steps)
    state.history.append(
        {"epoch": state.epoch + 1, "step": state.completed_steps, "train_loss": epoch_loss,
         "f1": f1}
    )
    agreement = next(iter(scores.values())).subword_agreement
    loop.accelerator.print(
        f"epoch {state.epoch + 1}: train loss {epoch_loss:.4f}, F1 "
        + ", ".join(f"{lang} {v:.3f}" for lang, v in f1.items())
        + (f"; sub-word agreement {agreement:.3f}" if agreement is not None else "")
    )
    if finished:
        state.epoch, state.batches_done_in_epoch, state.epoch_batches = state.epoch + 1, 0, 0
        losses.epoch.zero_()
    return scores


def fit(loop: Loop, state: ckpt.TrainingState) -> dict[str, LanguageScores]:
    """Train until the planned step count; return the last evaluation's scores."""
    config, accelerator, plan = loop.config, loop.accelerator, loop.plan
    losses = LossMonitor(accelerator.device, state)
    progress = tqdm(total=plan.total_steps, initial=state.completed_steps, desc="train",
                    disable=not accelerator.is_local_main_process)
    stop = StopRequest()
    scores: dict[str, LanguageScores] = {}
    started = time.perf_counter()
    loop.model.train()
    try:
        while state.completed_steps < plan.total_steps and state.epoch < plan.num_epochs:
            loop.train_loader.set_epoch(state.epoch)
            batches = loop.train_loader
            if state.batches_done_in_epoch:
                batches = accelerator.skip_first_batches(batches, state.batches_done_in_epoch)
            for batch in batches:
                losses.add(train_step(loop, batch), state.completed_steps + 1)
                state.batches_done_in_epoch += 1
                state.epoch_batches += 1
                if not accelerator.sync_gradients:
                    continue
                state.completed_steps += 1
                progress.update(1)
                step = state.completed_steps
                if loop.on_step is not None:
                    loop.on_step(step)
                if step % config.log_every == 0 or step == plan.total_steps:
                    losses.check_finite(loop.output_dir)
                    loss = losses.take_window(accelerator)
                    progress.set_postfix(loss=f"{loss:.4f}")
                    accelerator.log({"train/loss": loss,
                                     "train/lr": loop.scheduler.get_last_lr()[0]}, step=step)
                if config.checkpointing_steps and step % config.checkpointing_steps == 0:
                    started = save_point(loop, state, losses, started)
                if stop.signal is not None:
                    save_point(loop, state, losses, started)
                    raise TrainingError(
                        f"stopped by signal {signal.Signals(stop.signal).name} after step "
                        f"{step}; checkpoint saved, continue with --resume-from latest"
                    )
                if step >= plan.total_steps:
                    break
            losses.check_finite(loop.output_dir)
            # A run stopped by --max-steps inside an epoch keeps its place in that epoch.
            scores = end_epoch(loop, state, losses,
                               finished=state.batches_done_in_epoch >= len(loop.train_loader))
            started = save_point(loop, state, losses, started)
    finally:
        stop.restore()
        progress.close()
    state.elapsed_s += time.perf_counter() - started
    return scores


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


def resume_or_start(loop: Loop, fingerprint: str) -> ckpt.TrainingState:
    """This run's checkpoint when resuming; else a fresh state, refusing another run's folder."""
    config, accelerator = loop.config, loop.accelerator
    if not config.resume_from:
        if accelerator.is_main_process:
            ckpt.refuse_foreign_checkpoints(loop.output_dir, config.overwrite_output_dir)
        accelerator.wait_for_everyone()
        return ckpt.TrainingState(fingerprint=fingerprint)
    folder = ckpt.find_checkpoint(loop.output_dir, config.resume_from, fingerprint)
    accelerator.print(f"Resuming from {folder}")
    return ckpt.load_checkpoint(accelerator, folder)


def save_outputs(loop: Loop, tokenizer, results: RunResults) -> None:
    """Model (stock architecture), tokenizer, results.json, train_config.json and the card."""
    from swiss_ner.model_card import write_model_card

    accelerator, output_dir = loop.accelerator, loop.output_dir
    accelerator.wait_for_everyone()
    accelerator.unwrap_model(loop.model).save_pretrained(
        output_dir, is_main_process=accelerator.is_main_process, save_function=accelerator.save
    )
    if accelerator.is_main_process:
        tokenizer.save_pretrained(output_dir)
        results.save(output_dir / "results.json")
        loop.config.save(output_dir / "train_config.json")
        write_model_card(output_dir, repo_id=loop.config.hub_model_id)
        accelerator.print(f"Saved model, tokenizer, results.json and README.md to {output_dir} "
                          f"(train time {results.train_time_s / 60:.1f} min)")
    accelerator.wait_for_everyone()


def push_outputs(loop: Loop) -> None:
    """Push the output folder; a failed push stops the run (the folder stays saved)."""
    from swiss_ner.hub import HubPushError, push_to_hub

    try:
        push_to_hub(loop.output_dir, loop.config.hub_model_id, private=loop.config.hub_private,
                    accelerator=loop.accelerator)
    except HubPushError as error:
        raise TrainingError(
            f"training finished and was saved, but the push failed: {error}"
        ) from None


def check_packing(model: torch.nn.Module, pack: bool) -> None:
    """Packed rows need an attention that reads a boolean block mask: PyTorch's SDPA does;
    eager attention would add it as numbers and flash attention would ignore it."""
    implementation = model.config._attn_implementation
    if pack and implementation != "sdpa":
        raise ConfigError(
            f"--pack needs the model's attention to be 'sdpa', not {implementation!r}; "
            "pass --no-pack"
        )


def batch_padding(config: TrainConfig, mixed_precision: str) -> int | None:
    """The multiple batches are padded to: few distinct shapes where kernels are made per shape
    (CUDA graphs; oneDNN's bfloat16 products), tensor-core multiples under mixed precision."""
    if config.pad_to:
        return config.pad_to
    if config.compile == "reduce-overhead":
        return 32
    reduced = mixed_precision != "no" or config.matmul_precision != "highest"
    return 8 if reduced else None


def prepare_loop(
    config: TrainConfig,
    accelerator: Accelerator,
    data: TrainingData,
    label_names: list[str],
    on_step: Callable[[int], None] | None,
) -> Loop:
    """Model, loaders, optimiser and schedule, prepared by accelerate for the devices."""
    model = build_model(config.model_name_or_path, label_names)
    batching = config.for_device(accelerator.device.type)
    check_packing(model, batching.pack)
    pad_to = batch_padding(config, str(accelerator.mixed_precision))
    train_loader, eval_loaders, test_loaders = make_loaders(batching, data, pad_to)
    optimizer = make_optimizer(config, model)
    model, optimizer, train_loader, *prepared = accelerator.prepare(
        model, optimizer, train_loader, *eval_loaders.values(), *test_loaders.values()
    )
    eval_loaders = dict(zip(eval_loaders, prepared[: len(eval_loaders)], strict=True))
    test_loaders = dict(zip(test_loaders, prepared[len(eval_loaders) :], strict=True))
    scheduler, plan = make_schedule(config, optimizer, len(train_loader),
                                    accelerator.num_processes)
    return Loop(config, accelerator, model, optimizer, accelerator.prepare(scheduler),
                train_loader, eval_loaders, Evaluator(model, accelerator, data.tokenizer,
                                                      label_names, data),
                plan, Path(config.output_dir), test_loaders, on_step,
                {"group_by_length": batching.group_by_length, "pack": batching.pack})


def run_record(
    loop: Loop,
    data: TrainingData,
    state: ckpt.TrainingState,
    scores: dict[str, LanguageScores],
    test_scores: dict[str, LanguageScores],
) -> RunResults:
    """The typed record of the finished run, written as results.json."""
    from swiss_ner.model_card import canonical_base_model

    config, accelerator = loop.config, loop.accelerator
    return RunResults(
        base_model=canonical_base_model(config.model_name_or_path),
        config=config.to_dict(), label_names=list(loop.evaluate.id2label.values()),
        train_langs=list(config.train_langs), eval_langs=list(config.eval_langs),
        eval_split=config.eval_split, metrics=scores, test_metrics=test_scores,
        dataset=data.info, history=[EpochRecord(**record) for record in state.history],
        train_time_s=round(state.elapsed_s, 2), train_steps=state.completed_steps,
        num_processes=accelerator.num_processes,
        mixed_precision=str(accelerator.mixed_precision), versions=library_versions(),
        batching=loop.batching,
    )


def train(
    config: TrainConfig, on_step: Callable[[int], None] | None = None
) -> RunResults:
    """Fine-tune on ``config.train_langs``, evaluate on ``config.eval_langs``, save everything.

    Returns the run record also written to ``<output_dir>/results.json``. ``on_step(step)``
    runs after every optimizer step (the benchmarks time the loop with it).
    """
    config.validate()
    accelerator = make_accelerator(config)
    set_seed(config.seed)
    label_names = list(config.label_names or LABEL_NAMES)
    with accelerator.main_process_first():
        data = load_data(config, label_names)
    loop = prepare_loop(config, accelerator, data, label_names, on_step)
    if accelerator.log_with:
        accelerator.init_trackers("swiss-ner", config=_tracker_config(config))

    state = resume_or_start(loop, ckpt.config_fingerprint(config.to_dict()))
    accelerator.print(
        f"Training on {', '.join(config.train_langs)}: {data.info.train_sentences} sentences, "
        f"{loop.plan.total_steps} steps ({loop.plan.num_epochs} epochs of "
        f"{loop.plan.steps_per_epoch}), {accelerator.num_processes} process(es), "
        f"mixed precision {accelerator.mixed_precision}, float32 products "
        f"{config.matmul_precision}, " + describe_batching(loop.batching)
    )
    scores = fit(loop, state) or loop.evaluate(loop.eval_loaders, config.eval_split)
    # Model selection never sees test: it is scored once, on the final model.
    test_scores = loop.evaluate(loop.test_loaders, "test") if loop.test_loaders else {}

    results = run_record(loop, data, state, scores, test_scores)
    save_outputs(loop, data.tokenizer, results)
    if config.push_to_hub:
        push_outputs(loop)
    accelerator.end_training()
    return results
