"""The card body's two numeric sections, typed: the scores, and the data and recipe.

Numbers are formatted here (thousands separators, three decimals, F1 with its interval) so
that the template only places them; each row is a small dataclass the template reads by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swiss_ner.card.metadata import language_name
from swiss_ner.config import TrainConfig
from swiss_ner.config.fields import card_fields
from swiss_ner.constants import HUB_DATASET, SPLITS
from swiss_ner.results import EntityScores, Interval, LanguageScores, RunResults

HYPERPARAMETER_FIELDS: list[str] = card_fields(TrainConfig)  # the fields marked card=True


@dataclass
class ScoreRow:
    """One language's line in a results table, formatted."""

    language: str
    num_sentences: str
    num_entities: str
    precision: str
    recall: str
    f1: str
    type_f1: list[str]  # one cell per entity type, "–" when the type has no score


@dataclass
class ScoreTable:
    """The results table of one split and the truncation it suffered."""

    split: str
    rows: list[ScoreRow]
    truncated: list[str]  # "French 3 sentence(s), 4 entity(ies)" per language that lost any


@dataclass
class Agreement:
    """How often a continuation piece predicted its predecessor's tag, in one language."""

    name: str
    agreement: float


@dataclass
class WholeWords:
    """The share of ``simple``-aggregated entity groups that are whole words, in one language."""

    name: str
    groups: int | None
    share: float


@dataclass
class HistoryRow:
    epoch: int
    step: int
    train_loss: float
    f1: list[str]  # one cell per evaluated language


@dataclass
class DataRow:
    language: str
    fraction: float
    sizes: list[str]  # one cell per split present
    entities: list[str]  # training entities per entity type


@dataclass
class CardScores:
    """What the Results and Whole-word sections report."""

    eval_split: str
    held_out_split: str | None  # "test" when test leads, the evaluation split following
    train_langs: list[str]
    eval_langs: list[str]
    zero_shot_langs: list[str]
    tables: list[ScoreTable]
    max_eval_samples: int | None
    sampled: bool  # whether any evaluated language kept only a fraction of its split
    agreement: list[Agreement]
    whole_words: list[WholeWords]
    history: list[HistoryRow]


@dataclass
class CardRecipe:
    """What the Training data and Training procedure sections report."""

    data_splits: list[str]
    data_rows: list[DataRow]
    dataset_source: str
    train_sentences: str
    truncated_train_sentences: int
    max_length: int
    seed: int
    label_names: list[str]
    num_processes: int
    mixed_precision: str
    train_steps: int
    train_time: str
    hyperparameters: list[tuple[str, str]]
    versions: list[tuple[str, str]]


def format_f1(f1: float, interval: Interval | None) -> str:
    """``0.682 (0.671–0.693)``: the F1 and its 95% bootstrap interval, when there is one."""
    if interval is None:
        return f"{f1:.3f}"
    return f"{f1:.3f} ({interval.low:.3f}–{interval.high:.3f})"


def card_scores(results: RunResults, max_eval_samples: int | None) -> CardScores:
    """The scores of ``results``: the headline split's table first, then the evaluation split's."""
    splits = [(results.headline_split, results.headline_metrics)]
    if results.test_metrics:
        splits.append((results.eval_split, results.metrics))
    metrics = results.metrics
    return CardScores(
        eval_split=results.eval_split,
        held_out_split=results.headline_split if results.test_metrics else None,
        train_langs=results.train_langs,
        eval_langs=results.eval_langs,
        zero_shot_langs=results.zero_shot_langs,
        tables=[
            ScoreTable(split, _score_rows(results, scores), _truncation_notes(scores))
            for split, scores in splits
        ],
        max_eval_samples=max_eval_samples,
        sampled=any(results.dataset.fracs[lang] < 1 for lang in results.eval_langs),
        agreement=[
            Agreement(language_name(lang), s.subword_agreement)
            for lang, s in metrics.items()
            if s.subword_agreement is not None
        ],
        whole_words=[
            WholeWords(language_name(lang), s.simple_groups, s.whole_word_groups)
            for lang, s in metrics.items()
            if s.whole_word_groups is not None
        ],
        history=[
            HistoryRow(
                record.epoch,
                record.step,
                record.train_loss,
                [f"{record.f1[lang]:.3f}" if lang in record.f1 else "–"
                 for lang in results.eval_langs],
            )
            for record in results.history
        ],
    )


def card_recipe(results: RunResults, seed: int, max_length: int) -> CardRecipe:
    """The data and the recipe of ``results``."""
    dataset = results.dataset
    return CardRecipe(
        data_splits=_data_splits(results),
        data_rows=_data_rows(results),
        dataset_source=_dataset_source(dataset.source),
        train_sentences=f"{dataset.train_sentences:,}",
        truncated_train_sentences=dataset.truncated_train_sentences,
        max_length=max_length,
        seed=seed,
        label_names=results.label_names,
        num_processes=results.num_processes,
        mixed_precision=results.mixed_precision,
        train_steps=results.train_steps,
        train_time=_train_time(results.train_time_s),
        hyperparameters=_hyperparameters(results),
        versions=list(results.versions.items()),
    )


def _type_f1(scores: EntityScores | None) -> str:
    return "–" if scores is None else format_f1(scores.f1, scores.f1_ci)


def _score_rows(results: RunResults, scores: dict[str, LanguageScores]) -> list[ScoreRow]:
    zero_shot = set(results.zero_shot_langs)
    return [
        ScoreRow(
            language=f"{language_name(lang)} (`{lang}`)" + (" *" if lang in zero_shot else ""),
            num_sentences=f"{s.num_sentences:,}",
            num_entities=f"{s.num_entities:,}",
            precision=f"{s.precision:.3f}",
            recall=f"{s.recall:.3f}",
            f1=format_f1(s.f1, s.f1_ci),
            type_f1=[_type_f1(s.per_type.get(entity)) for entity in results.entity_types],
        )
        for lang, s in scores.items()
    ]


def _truncation_notes(scores: dict[str, LanguageScores]) -> list[str]:
    return [
        f"{language_name(lang)} {s.truncated_sentences:,} sentence(s), "
        f"{s.truncated_entities:,} entity(ies)"
        for lang, s in scores.items()
        if s.truncated_sentences or s.truncated_entities
    ]


def _data_splits(results: RunResults) -> list[str]:
    present = {split for sizes in results.dataset.sizes.values() for split in sizes}
    return [split for split in SPLITS if split in present]


def _data_rows(results: RunResults) -> list[DataRow]:
    dataset = results.dataset
    splits = _data_splits(results)
    return [
        DataRow(
            language=f"{language_name(lang)} (`{lang}`)",
            fraction=dataset.fracs[lang],
            sizes=[f"{sizes[split]:,}" if split in sizes else "–" for split in splits],
            entities=[
                f"{dataset.entity_counts[lang]['train'][entity]:,}"
                for entity in results.entity_types
            ],
        )
        for lang, sizes in dataset.sizes.items()
    ]


def _dataset_source(source: str) -> str:
    """Where the data came from, without publishing a local absolute path."""
    if source == HUB_DATASET:
        return f"the Hub dataset `{HUB_DATASET}`"
    return f"local IOB2 files (`{Path(source).name}/`)"


def _train_time(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def _format_value(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _hyperparameters(results: RunResults) -> list[tuple[str, str]]:
    """The settings marked for the card; a local base model shows as its folder name only."""
    options = results.config.flat_dict()  # the card names options as the command line does
    rows = [(name, _format_value(options[name])) for name in HYPERPARAMETER_FIELDS]
    trained_from = Path(results.config.model_name_or_path).name
    shown_model = results.base_model or f"local folder `{trained_from}`"
    rows = [(name, shown_model if name == "model_name_or_path" else value) for name, value in rows]
    rows.append(("batching", results.batching.describe()))
    return rows
