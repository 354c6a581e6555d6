"""The configuration of a training run, and of the cross-lingual report built from such runs.

A :class:`TrainConfig` is a few run-wide options and one section per part of the run
(:mod:`.sections`). ``train_config.json`` and ``results.json`` store it nested (schema 3);
files of schema 2 stored it flat, and are read by putting each option into its section.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiss_ner.config.fields import (
    BOOKKEEPING,
    RESULTS,
    ConfigError,
    at_least,
    check_bounds,
    flat_values,
    from_flat,
    from_nested,
    option,
)
from swiss_ner.config.sections import (
    BatchingOptions,
    CheckpointOptions,
    DataOptions,
    DeviceOptions,
    HubOptions,
    OptimisationOptions,
)
from swiss_ner.constants import DEFAULT_MODEL

STRATEGIES: tuple[str, ...] = ("zero-shot", "learning-curve", "each", "all")
CURVE_SIZES: tuple[int, ...] = (250, 500, 1000, 2000, 4000)
SCHEMA_VERSION = 3  # train_config.json: the sections nested
FLAT_SCHEMA_VERSION = 2  # every option at the top level, as on the command line


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved in results.json and train_config.json."""

    model_name_or_path: str = field(
        default=DEFAULT_MODEL,
        metadata=option(
            "Hub id (e.g. FacebookAI/xlm-roberta-base) or local folder of the model to "
            "fine-tune; the folder must hold its tokenizer.",
            aliases=("--model",),
            card=True,
        ),
    )
    output_dir: str = field(
        default="outputs/xlmr-panx-ch",
        metadata=option(
            "Folder for checkpoints, the final model, tokenizer and results.json.", role=BOOKKEEPING
        ),
    )
    seed: int = field(
        default=42, metadata=option("Seed of the Swiss mix, shuffling and init.", card=True)
    )
    num_epochs: int = field(
        default=3,
        metadata=option("Passes over the training data.", role=RESULTS, card=True, minimum=1),
    )
    max_steps: int | None = field(
        default=None,
        metadata=option(
            "Stop after this many optimizer steps (overrides epochs).",
            role=RESULTS,
            card=True,
            minimum=1,
        ),
    )
    log_every: int = field(
        default=50,
        metadata=option(
            "Log the mean loss every N steps; the loss stays on the device in between, so the "
            "host does not wait for the accelerator every step.",
            role=BOOKKEEPING,
            minimum=1,
        ),
    )
    report_to: str = field(
        default="tensorboard",
        metadata=option(
            "Accelerate tracker: tensorboard, wandb, mlflow, all, or none.", role=BOOKKEEPING
        ),
    )
    data: DataOptions = field(default_factory=DataOptions)
    optimisation: OptimisationOptions = field(default_factory=OptimisationOptions)
    batching: BatchingOptions = field(default_factory=BatchingOptions)
    device: DeviceOptions = field(default_factory=DeviceOptions)
    checkpoints: CheckpointOptions = field(default_factory=CheckpointOptions)
    hub: HubOptions = field(default_factory=HubOptions)

    @classmethod
    def from_flat(cls, values: Mapping[str, Any]) -> TrainConfig:
        """A configuration from options named as on the command line (as schema 2 saved them),
        each put into its section; not validated."""
        return from_flat(cls, values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """A configuration from its nested dict (:meth:`to_dict`); not validated."""
        return from_nested(cls, values)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read ``train_config.json``: nested (schema 3) or flat (schema 2, or no version, as
        written before versions were); any other version is refused in one line."""
        values = json.loads(Path(path).read_text(encoding="utf-8"))
        try:
            if not isinstance(values, dict):
                raise ConfigError("not a JSON object")
            return _saved_config(values, values.pop("schema_version", FLAT_SCHEMA_VERSION))
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        """The nested layout of schema 3: run-wide options, then one object per section."""
        return dataclasses.asdict(self)

    def flat_dict(self) -> dict[str, Any]:
        """Every option by its command-line name: what fingerprints and cache keys compare."""
        return flat_values(self)

    def save(self, path: str | Path) -> None:
        values = {"schema_version": SCHEMA_VERSION, **self.to_dict()}
        Path(path).write_text(json.dumps(values, indent=2) + "\n")

    def validate(self) -> None:
        """Refuse values that cannot give a right run, naming the option and the allowed range:
        the run-wide options here, each section's own in that section."""
        check_bounds(self)
        for section in (self.data, self.optimisation, self.batching, self.device,
                        self.checkpoints, self.hub):
            section.validate()


def _saved_config(values: Mapping[str, Any], version: object) -> TrainConfig:
    """The configuration a file of schema ``version`` stored: nested (3) or flat (2)."""
    if version == SCHEMA_VERSION:
        return TrainConfig.from_dict(values)
    if version == FLAT_SCHEMA_VERSION:
        return TrainConfig.from_flat(values)
    raise ConfigError(f"schema version {version!r} is not one this swiss-ner reads "
                      f"({FLAT_SCHEMA_VERSION} or {SCHEMA_VERSION})")


@dataclass
class ReportConfig:
    """The cross-lingual report: the shared training options of its runs plus its own."""

    HIDDEN = ("output_dir",)  # each run gets its folder under --report-dir

    training: TrainConfig = field(default_factory=TrainConfig)
    report_dir: str = field(
        default="reports/crosslingual",
        metadata=option("Folder for the report files and the runs (runs/<name>)."),
    )
    strategies: list[str] = field(
        default_factory=lambda: list(STRATEGIES),
        metadata=option("Strategies to run.", choices=STRATEGIES),
    )
    curve_sizes: list[int] = field(
        default_factory=lambda: list(CURVE_SIZES),
        metadata=option("Target-language training sizes of the learning curve (capped)."),
    )
    source_lang: str = field(default="de", metadata=option("Language of the zero-shot model."))
    target_lang: str = field(default="fr", metadata=option("Language of the learning curve."))
    seeds: int = field(
        default=1,
        metadata=option(
            "Seeds per run (seed, seed+1, ...): tables give mean ± std across seeds; with one "
            "seed each F1 carries its 95% bootstrap interval."
        ),
    )
    keep_weights: bool = field(
        default=True,
        metadata=option("Keep each run's final weights (checkpoints are deleted after a run)."),
    )

    def validate(self) -> None:
        self.training.validate()
        at_least("seeds", self.seeds, 1)
        langs = self.training.data.langs
        for lang in (self.source_lang, self.target_lang):
            if lang not in langs:
                raise ConfigError(f"language {lang!r} is not in --langs {langs}")
