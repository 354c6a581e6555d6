"""The Hub model card (README.md) and per-language result table of a publish folder.

The card's content is one typed :class:`~swiss_ner.card.data.SwissNerCardData`, filled from the
run record (:class:`~swiss_ner.results.RunResults`) by
:func:`~swiss_ner.card.data.card_data_from_results`; ``huggingface_hub.ModelCard.from_template``
renders it with the Jinja template ``card/template.md``, so the YAML header (languages, widget
examples, model-index with one entry per language and split) is what the Hub reads and the body
is what people read. Every F1 carries its bootstrap interval, and the split of every number is
named: the test split leads when the run scored one.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from huggingface_hub import ModelCard

from swiss_ner.card.data import SwissNerCardData, card_data_from_results
from swiss_ner.card.metadata import (
    HUB_URL,
    canonical_base_model,
    card_languages,
    model_widget,
)
from swiss_ner.card.sections import HYPERPARAMETER_FIELDS, format_f1
from swiss_ner.results import Interval, LanguageScores, RunResults

__all__ = [
    "CARD_FILE",
    "HUB_URL",
    "HYPERPARAMETER_FIELDS",
    "PER_LANGUAGE_FILE",
    "TEMPLATE_PATH",
    "SwissNerCardData",
    "canonical_base_model",
    "card_data_from_results",
    "card_languages",
    "folder_model_card",
    "format_f1",
    "render_model_card",
    "write_model_card",
    "write_per_language_results",
]

CARD_FILE = "README.md"
PER_LANGUAGE_FILE = "results_per_language.csv"
TEMPLATE_PATH = Path(__file__).with_name("card") / "template.md"


def render_model_card(
    results: RunResults,
    repo_id: str | None = None,
    model_config: dict | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
    widget: list[dict] | None = None,
    space_id: str | None = None,
) -> ModelCard:
    """The model card of a run: :func:`card_data_from_results` rendered with the template."""
    card_data = card_data_from_results(
        results,
        repo_id,
        space_id=space_id,
        model_config=model_config,
        widget=widget,
        base_model=base_model,
        license=license,
    )
    return ModelCard.from_template(card_data, template_path=str(TEMPLATE_PATH))


def _interval_columns(prefix: str, interval: Interval | None) -> dict:
    return {
        f"{prefix}_low": interval.low if interval else None,
        f"{prefix}_high": interval.high if interval else None,
    }


def _csv_row(results: RunResults, lang: str, split: str, scores: LanguageScores) -> dict:
    row = {
        "lang": lang,
        "split": split,
        "zero_shot": lang in results.zero_shot_langs,
        "num_sentences": scores.num_sentences,
        "num_entities": scores.num_entities,
        "truncated_sentences": scores.truncated_sentences,
        "truncated_entities": scores.truncated_entities,
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        **_interval_columns("f1", scores.f1_ci),
        "accuracy": scores.accuracy,
    }
    for entity in results.entity_types:
        typed = scores.per_type.get(entity)
        row[f"{entity}_f1"] = typed.f1 if typed else None
        row.update(_interval_columns(f"{entity}_f1", typed.f1_ci if typed else None))
        row[f"{entity}_number"] = typed.number if typed else 0
    return row


def write_per_language_results(results: RunResults, path: str | Path) -> Path:
    """One CSV row per language and split: counts, P/R/F1 with intervals, per-type F1."""
    path = Path(path)
    rows = [_csv_row(results, lang, results.eval_split, s) for lang, s in results.metrics.items()]
    rows += [_csv_row(results, lang, "test", s) for lang, s in results.test_metrics.items()]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["lang"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def folder_model_card(
    folder: str | Path,
    repo_id: str | None = None,
    *,
    widget_outputs: bool = True,
    base_model: str | None = None,
    license: str = "apache-2.0",
    space_id: str | None = None,
) -> ModelCard:
    """The card of a run folder: its ``results.json``, and its ``config.json`` for the model size.

    With ``widget_outputs`` the widget examples carry what the stock pipeline answers with the
    model in ``folder``; without, they are the plain sentences (a folder without weights).
    Raises ``FileNotFoundError`` when ``results.json`` is missing and ``ValueError`` when it is
    not a run record of this version.
    """
    folder = Path(folder)
    results = RunResults.load(folder)
    config_path = folder / "config.json"
    model_config = json.loads(config_path.read_text()) if config_path.is_file() else None
    widget = model_widget(folder, card_languages(results)) if widget_outputs else None
    return render_model_card(
        results,
        repo_id,
        model_config=model_config,
        base_model=base_model,
        license=license,
        widget=widget,
        space_id=space_id,
    )


def write_model_card(
    output_dir: str | Path,
    repo_id: str | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
    space_id: str | None = None,
) -> Path:
    """Render ``output_dir/README.md`` (:func:`folder_model_card`) and the per-language CSV.

    Returns the path of the card; raises as :func:`folder_model_card`.
    """
    output_dir = Path(output_dir)
    card = folder_model_card(
        output_dir, repo_id, base_model=base_model, license=license, space_id=space_id
    )
    card_path = output_dir / CARD_FILE
    card.save(card_path)
    write_per_language_results(RunResults.load(output_dir), output_dir / PER_LANGUAGE_FILE)
    return card_path
