"""The loop: ``train_step`` is one update, ``fit`` runs them until the planned step count.

``fit`` keeps the running loss on the device and synchronises with the host only when it logs,
checkpoints or stops.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from swiss_ner import checkpoints as ckpt
from swiss_ner.config import TrainConfig
from swiss_ner.constants import entity_types
from swiss_ner.evaluation import evaluate_language
from swiss_ner.logs import progress_bar
from swiss_ner.metrics import load_seqeval
from swiss_ner.results import Batching, LanguageScores
from swiss_ner.training.consistency import WordConsistency
from swiss_ner.training.inputs import TrainingData
from swiss_ner.training.optimization import Schedule


class TrainingError(RuntimeError):
    """A run that cannot give a right model; the message says what happened and what to do."""


class Evaluator:
    """Scores every language of a set of loaders with the model in its current state."""

    def __init__(self, model, accelerator, words: WordConsistency, label_names: list[str],
                 data: TrainingData):
        self.model, self.accelerator, self.data, self.words = model, accelerator, data, words
        self.id2label = dict(enumerate(label_names))
        self.types = entity_types(label_names)
        self.metric = load_seqeval()

    def __call__(self, loaders: dict[str, DataLoader], split: str) -> dict[str, LanguageScores]:
        scores = {}
        for lang, loader in loaders.items():
            result = evaluate_language(
                self.model, loader, self.accelerator, self.id2label, self.metric, self.types,
                self.words.kinds, self.words.continuation_map, f"{split} {lang}",
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
                self.previous[sig] = signal.signal(sig, self._request) or signal.SIG_DFL
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
    batching: Batching = field(default_factory=Batching)  # device defaults resolved
    on_step: Callable[[int], None] | None = None  # called after each optimizer step (timing)
    on_batch: Callable[[dict], None] | None = None  # called with each batch before its step


def train_step(loop: Loop, batch: dict) -> torch.Tensor:
    """One forward and backward pass (an optimizer step when the accumulation is complete)."""
    config, accelerator, model = loop.config, loop.accelerator, loop.model
    if config.device.compile == "reduce-overhead":
        torch.compiler.cudagraph_mark_step_begin()  # last step's graph outputs are done with
    with accelerator.accumulate(model):
        outputs = model(**batch)
        loss = outputs.loss
        words = loop.evaluate.words
        weight = config.optimisation.consistency_weight
        if weight and words.continuation is not None:
            loss = loss + weight * words.loss(outputs.logits, batch["input_ids"])
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(model.parameters(), config.optimisation.max_grad_norm)
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
    ckpt.save_checkpoint(loop.accelerator, loop.output_dir, state,
                         loop.config.checkpoints.save_total_limit)
    return time.perf_counter()


def end_epoch(
    loop: Loop, state: ckpt.TrainingState, losses: LossMonitor, finished: bool
) -> dict[str, LanguageScores]:
    """Evaluate, log and record the epoch that just ended (or stopped, when not ``finished``)."""
    scores = loop.evaluate(loop.eval_loaders, loop.config.data.eval_split)
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
    every = config.checkpoints.checkpointing_steps
    losses = LossMonitor(accelerator.device, state)
    progress = progress_bar(total=plan.total_steps, initial=state.completed_steps, desc="train",
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
                if loop.on_batch is not None:
                    loop.on_batch(batch)
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
                if every and step % every == 0:
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
