"""``RunResults``: the typed run record behind ``results.json``.

Training writes it; the model card, the push, the cross-lingual report and the error analysis
read it. Every field has a type, and the schema version says which fields a file may hold:
schema 3 stores the run's configuration nested in its sections; schema 2 stored it flat and is
still read, each option put into its section.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiss_ner.config.training import TrainConfig

SCHEMA_VERSION = 3
FLAT_CONFIG_VERSION = 2  # the last schema with the configuration flat
RESULTS_FILE = "results.json"


@dataclass
class Interval:
    """A 95% bootstrap confidence interval (percentiles over resampled sentences)."""

    low: float
    high: float


@dataclass
class EntityScores:
    """Entity-level scores of one entity type; ``number`` is its count in the gold tags."""

    precision: float
    recall: float
    f1: float
    number: int
    f1_ci: Interval | None = None


@dataclass
class LanguageScores:
    """Scores of one language on one split, with what was and was not scored."""

    precision: float
    recall: float
    f1: float
    accuracy: float
    num_sentences: int
    num_entities: int
    per_type: dict[str, EntityScores] = field(default_factory=dict)
    f1_ci: Interval | None = None
    truncated_sentences: int = 0
    truncated_entities: int = 0
    subword_agreement: float | None = None
    whole_word_groups: float | None = None
    simple_groups: int | None = None


@dataclass
class EpochRecord:
    """One line of the training history."""

    epoch: int
    step: int
    train_loss: float
    f1: dict[str, float]


@dataclass
class DatasetInfo:
    """Where the data came from and how much of it there was."""

    source: str
    fracs: dict[str, float]
    train_sentences: int
    sizes: dict[str, dict[str, int]]
    entity_counts: dict[str, dict[str, dict[str, int]]]
    truncated_train_sentences: int = 0


@dataclass
class Batching:
    """The batching a run used, its device defaults resolved: what ran, not what was asked."""

    group_by_length: bool = False
    pack: bool = False
    pad_to: int | None = None  # the multiple batches were padded to; None pads to the longest

    def describe(self) -> str:
        """``random batches, packed into rows`` and the like, for the log and the card."""
        order = "length-grouped" if self.group_by_length else "random"
        padded = f", padded to multiples of {self.pad_to}" if self.pad_to else ""
        return f"{order} batches" + (", packed into rows" if self.pack else "") + padded


@dataclass
class RunResults:
    """Everything a finished run reports; ``results.json`` is this, as JSON."""

    config: TrainConfig
    label_names: list[str]
    train_langs: list[str]
    eval_langs: list[str]
    eval_split: str
    metrics: dict[str, LanguageScores]
    dataset: DatasetInfo
    history: list[EpochRecord]
    train_time_s: float
    train_steps: int
    num_processes: int
    mixed_precision: str
    versions: dict[str, str]
    test_metrics: dict[str, LanguageScores] = field(default_factory=dict)
    # The Hub id the run started from (canonical name), decided where the run could see whether
    # ``model_name_or_path`` was a local folder; None for a local folder.
    base_model: str | None = None
    batching: Batching = field(default_factory=Batching)
    schema_version: int = SCHEMA_VERSION

    @property
    def zero_shot_langs(self) -> list[str]:
        return [lang for lang in self.eval_langs if lang not in self.train_langs]

    @property
    def entity_types(self) -> list[str]:
        from swiss_ner.constants import entity_types

        return entity_types(self.label_names)

    @property
    def headline_split(self) -> str:
        """The split the card leads with: test when it was scored, else the evaluation split."""
        return "test" if self.test_metrics else self.eval_split

    @property
    def headline_metrics(self) -> dict[str, LanguageScores]:
        return self.test_metrics or self.metrics

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunResults:
        version = values.get("schema_version")
        if version not in (FLAT_CONFIG_VERSION, SCHEMA_VERSION):
            raise ValueError(
                f"results schema version {version} is not {FLAT_CONFIG_VERSION} or "
                f"{SCHEMA_VERSION}; re-run the evaluation with this version of swiss-ner"
            )
        values = dict(values)
        read = TrainConfig.from_flat if version == FLAT_CONFIG_VERSION else TrainConfig.from_dict
        values["config"] = read(values["config"])
        values["schema_version"] = SCHEMA_VERSION  # read into today's layout, saved as such
        values["metrics"] = _language_scores(values["metrics"])
        values["test_metrics"] = _language_scores(values.get("test_metrics") or {})
        values["dataset"] = DatasetInfo(**values["dataset"])
        values["history"] = [EpochRecord(**record) for record in values["history"]]
        values["batching"] = Batching(**(values.get("batching") or {}))
        return cls(**values)

    @classmethod
    def load(cls, folder_or_file: str | Path) -> RunResults:
        """Read ``results.json`` (or the file given); errors name the file."""
        path = Path(folder_or_file)
        if path.is_dir():
            path = path / RESULTS_FILE
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} not found: train a model into that folder") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path} is not a swiss-ner run record: {error}") from None


def _interval(value: dict | None) -> Interval | None:
    return Interval(**value) if value else None


def _language_scores(values: dict[str, dict]) -> dict[str, LanguageScores]:
    scores = {}
    for lang, entry in values.items():
        entry = dict(entry)
        entry["f1_ci"] = _interval(entry.get("f1_ci"))
        entry["per_type"] = {
            entity: EntityScores(**{**typed, "f1_ci": _interval(typed.get("f1_ci"))})
            for entity, typed in entry.get("per_type", {}).items()
        }
        scores[lang] = LanguageScores(**entry)
    return scores
