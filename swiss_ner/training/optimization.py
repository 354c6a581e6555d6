"""The optimiser and the learning-rate schedule of a run."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from transformers import get_scheduler

from swiss_ner.config import ConfigError, TrainConfig


def make_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.AdamW:
    """AdamW with weight decay on weights only (not biases and LayerNorm), fused by default."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    decay, skip = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (skip if any(nd in name for nd in no_decay) else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.optimisation.weight_decay},
              {"params": skip, "weight_decay": 0.0}]
    options = config.optimisation
    return torch.optim.AdamW(groups, lr=options.learning_rate, fused=options.fused_adamw or None)


@dataclass
class Schedule:
    """How long the run is, in optimizer steps per process."""

    steps_per_epoch: int
    total_steps: int
    num_epochs: int


def make_schedule(config: TrainConfig, optimizer, batches_per_epoch: int, processes: int):
    """The step counts and a linear schedule with warm-up over them."""
    steps_per_epoch = math.ceil(batches_per_epoch / config.optimisation.gradient_accumulation_steps)
    if steps_per_epoch < 1:
        raise ConfigError("no training batches: the training set is empty")
    total = config.max_steps or steps_per_epoch * config.num_epochs
    plan = Schedule(steps_per_epoch, total, math.ceil(total / steps_per_epoch))
    # The prepared scheduler steps once per process on every update, hence the factor.
    scheduler = get_scheduler(
        "linear",
        optimizer=optimizer,
        num_warmup_steps=int(config.optimisation.warmup_ratio * total) * processes,
        num_training_steps=total * processes,
    )
    return scheduler, plan
