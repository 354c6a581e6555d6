"""``train()`` reads top to bottom like accelerate's ``nlp_example.py``: accelerator, data,
model, optimiser and schedule, resume, fit, evaluate, save, push."""

from __future__ import annotations

import copy
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import (
    DataLoaderConfiguration,
    ProjectConfiguration,
    TorchDynamoPlugin,
    set_seed,
)

from swiss_ner import checkpoints as ckpt
from swiss_ner.config import ConfigError, TrainConfig
from swiss_ner.constants import LABEL_NAMES
from swiss_ner.modeling import build_model
from swiss_ner.results import EpochRecord, LanguageScores, RunResults
from swiss_ner.training.consistency import WordConsistency
from swiss_ner.training.inputs import TrainingData, load_data, make_loaders, resolve_batching
from swiss_ner.training.loop import Evaluator, Loop, TrainingError, fit
from swiss_ner.training.optimization import make_optimizer, make_schedule

LOGS_DIR = "logs"


def make_accelerator(config: TrainConfig) -> Accelerator:
    """Accelerator with trackers and seedable sampling; CPU threads set to every core, and the
    precision of float32 matrix products set for the process."""
    # Accelerate forms a CPU process group (gloo) only when asked for the CPU explicitly.
    launched_without_gpu = "LOCAL_RANK" in os.environ and not torch.cuda.is_available()
    device = config.device
    accelerator = Accelerator(
        cpu=device.cpu or launched_without_gpu,
        mixed_precision=device.mixed_precision,
        gradient_accumulation_steps=config.optimisation.gradient_accumulation_steps,
        log_with=None if config.report_to == "none" else config.report_to,
        project_config=ProjectConfiguration(
            project_dir=config.output_dir, logging_dir=str(Path(config.output_dir) / LOGS_DIR)
        ),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        # Compiled last in `prepare`, around the mixed-precision wrapper; dynamic shapes, so
        # that batches of a new length reuse the graph instead of compiling again.
        dynamo_plugin=None if device.compile == "no" else TorchDynamoPlugin(
            backend="inductor", mode=device.compile, dynamic=True
        ),
    )
    torch.set_float32_matmul_precision(device.matmul_precision)
    if accelerator.device.type == "cpu":
        # `accelerate launch` pins CPU runs to one thread; share the cores between processes.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        per_process = max(1, (cores or 1) // accelerator.num_processes)
        torch.set_num_threads(device.num_threads or per_process)
    return accelerator


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
    """TensorBoard's hparams accept scalars only: options by their flag names, lists become
    strings, None is dropped."""
    flat = {}
    for key, value in config.flat_dict().items():
        if isinstance(value, list):
            value = " ".join(map(str, value))
        if value is not None:
            flat[key] = value
    return flat


def resume_or_start(loop: Loop) -> ckpt.TrainingState:
    """This run's checkpoint when resuming; else a fresh state, refusing another run's folder."""
    config, accelerator = loop.config, loop.accelerator
    fresh = ckpt.TrainingState.for_run(config.flat_dict())
    options = config.checkpoints
    if not options.resume_from:
        if accelerator.is_main_process:
            ckpt.refuse_foreign_checkpoints(loop.output_dir, options.overwrite_output_dir)
        accelerator.wait_for_everyone()
        return fresh
    folder = ckpt.find_checkpoint(loop.output_dir, options.resume_from, fresh.fingerprint,
                                  fresh.options)
    accelerator.print(f"Resuming from {folder}")
    return ckpt.load_checkpoint(accelerator, folder)


def warn_if_disk_is_small(loop: Loop) -> None:
    """Say before the first checkpoint when the disk cannot hold --save-total-limit + 1 of them."""
    if loop.accelerator.is_main_process:
        size = ckpt.estimate_checkpoint_bytes(loop.accelerator.unwrap_model(loop.model),
                                              loop.optimizer)
        warning = ckpt.space_warning(loop.output_dir, size,
                                     loop.config.checkpoints.save_total_limit)
        if warning:
            loop.accelerator.print(warning)


@contextmanager
def sigterm_ignored() -> Iterator[None]:
    """SIGTERM ignored while the finished run saves and closes (a job's end often sends it)."""
    try:
        # None means a handler set outside Python; restoring the default is then the safe choice
        # (a SIGTERM left ignored would be inherited by every process started afterwards).
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN) or signal.SIG_DFL
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def save_outputs(loop: Loop, tokenizer, results: RunResults) -> None:
    """Model (stock architecture), tokenizer, results.json, train_config.json and the card; a
    failed write ends in one line naming the path (and the checkpoint to resume)."""
    keep = loop.config.checkpoints.save_total_limit
    with ckpt.reported_write(loop.output_dir, loop.output_dir, keep):
        _save_outputs(loop, tokenizer, results)


def _save_outputs(loop: Loop, tokenizer, results: RunResults) -> None:
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
        write_model_card(output_dir, repo_id=loop.config.hub.hub_model_id)
        accelerator.print(f"Saved model, tokenizer, results.json and README.md to {output_dir} "
                          f"(train time {results.train_time_s / 60:.1f} min)")
    accelerator.wait_for_everyone()


def push_outputs(loop: Loop) -> None:
    """Push the output folder; a failed push stops the run (the folder stays saved)."""
    from swiss_ner.hub import HubPushError, push_to_hub

    try:
        hub = loop.config.hub
        push_to_hub(loop.output_dir, hub.hub_model_id, private=hub.hub_private,
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


def prepare_loop(
    config: TrainConfig,
    accelerator: Accelerator,
    data: TrainingData,
    label_names: list[str],
    on_step: Callable[[int], None] | None = None,
    on_batch: Callable[[dict], None] | None = None,
) -> Loop:
    """Model, loaders, optimiser and schedule, prepared by accelerate for the devices."""
    model = build_model(config.model_name_or_path, label_names)
    batching = resolve_batching(config, accelerator.device.type, str(accelerator.mixed_precision))
    check_packing(model, batching.pack)
    train_loader, eval_loaders, test_loaders = make_loaders(config, data, batching)
    optimizer = make_optimizer(config, model)
    model, optimizer, train_loader, *prepared = accelerator.prepare(
        model, optimizer, train_loader, *eval_loaders.values(), *test_loaders.values()
    )
    eval_loaders = dict(zip(eval_loaders, prepared[: len(eval_loaders)], strict=True))
    test_loaders = dict(zip(test_loaders, prepared[len(eval_loaders) :], strict=True))
    scheduler, plan = make_schedule(config, optimizer, len(train_loader),
                                    accelerator.num_processes)
    words = WordConsistency(data.tokenizer, label_names, accelerator.device)
    evaluator = Evaluator(model, accelerator, words, label_names, data)
    return Loop(config, accelerator, model, optimizer, accelerator.prepare(scheduler),
                train_loader, eval_loaders, evaluator, plan, Path(config.output_dir),
                test_loaders, batching, on_step, on_batch)


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
        config=copy.deepcopy(config), label_names=list(loop.evaluate.id2label.values()),
        train_langs=list(config.data.train_langs), eval_langs=list(config.data.eval_langs),
        eval_split=config.data.eval_split, metrics=scores, test_metrics=test_scores,
        dataset=data.info, history=[EpochRecord(**record) for record in state.history],
        train_time_s=round(state.elapsed_s, 2), train_steps=state.completed_steps,
        num_processes=accelerator.num_processes,
        mixed_precision=str(accelerator.mixed_precision), versions=library_versions(),
        batching=loop.batching,
    )


def train(
    config: TrainConfig,
    on_step: Callable[[int], None] | None = None,
    on_batch: Callable[[dict], None] | None = None,
) -> RunResults:
    """Fine-tune on ``config.data.train_langs``, evaluate on ``config.data.eval_langs``, save
    everything.

    Returns the run record also written to ``<output_dir>/results.json``. ``on_step(step)``
    runs after every optimizer step and ``on_batch(batch)`` before each batch's step (the
    benchmarks time the loop and count its tokens with them). The main process holds the
    output folder's lock throughout, so a second run into it stops at once.
    """
    config.validate()
    accelerator = make_accelerator(config)
    locked = ckpt.output_folder_lock(config.output_dir) if accelerator.is_main_process else None
    with locked or nullcontext():
        return _train(config, accelerator, on_step, on_batch)


def _train(
    config: TrainConfig,
    accelerator: Accelerator,
    on_step: Callable[[int], None] | None,
    on_batch: Callable[[dict], None] | None,
) -> RunResults:
    """The steps of :func:`train`, inside the output folder's lock."""
    set_seed(config.seed)
    label_names = list(config.data.label_names or LABEL_NAMES)
    with accelerator.main_process_first():
        data = load_data(config, label_names)
    loop = prepare_loop(config, accelerator, data, label_names, on_step, on_batch)
    if accelerator.log_with:
        accelerator.init_trackers("swiss-ner", config=_tracker_config(config))

    state = resume_or_start(loop)
    warn_if_disk_is_small(loop)
    accelerator.print(
        f"Training on {', '.join(config.data.train_langs)}: {data.info.train_sentences} sentences, "
        f"{loop.plan.total_steps} steps ({loop.plan.num_epochs} epochs of "
        f"{loop.plan.steps_per_epoch}), {accelerator.num_processes} process(es), "
        f"mixed precision {accelerator.mixed_precision}, float32 products "
        f"{config.device.matmul_precision}, " + loop.batching.describe()
    )
    scores = fit(loop, state) or loop.evaluate(loop.eval_loaders, config.data.eval_split)
    # Model selection never sees test: it is scored once, on the final model.
    test_scores = loop.evaluate(loop.test_loaders, "test") if loop.test_loaders else {}

    results = run_record(loop, data, state, scores, test_scores)
    with sigterm_ignored():  # once saving starts, the run completes and exits 0
        save_outputs(loop, data.tokenizer, results)
        if config.hub.push_to_hub:
            push_outputs(loop)
        accelerator.end_training()
    return results
