"""The Hub model card (README.md) and per-language result table of a publish folder.

The card is rendered from the run record (:class:`~swiss_ner.results.RunResults`) with the Jinja
template ``model_card_template.md`` through ``huggingface_hub.ModelCard.from_template``, so its
YAML header (languages, widget examples, model-index with one entry per language and split) is
what the Hub reads, and its body is what people read. Every F1 carries its bootstrap interval,
and the split of every number is named: the test split leads when the run scored one.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from swiss_ner.config import is_hub_model_id
from swiss_ner.constants import DEFAULT_MODEL, HUB_DATASET, LABEL_NAMES, LANGUAGE_NAMES, SPLITS
from swiss_ner.results import (
    EntityScores,
    Interval,
    LanguageScores,
    RunResults,
)
from swiss_ner.widget import WIDGET_EXAMPLES

CARD_FILE = "README.md"
PER_LANGUAGE_FILE = "results_per_language.csv"
TEMPLATE_PATH = Path(__file__).with_name("model_card_template.md")
HUB_URL = "https://huggingface.co"

# Un-namespaced ids the Hub redirects; the card names the canonical one.
LEGACY_HUB_IDS = {
    "xlm-roberta-base": DEFAULT_MODEL,
    "xlm-roberta-large": "FacebookAI/xlm-roberta-large",
}
ENTITY_DESCRIPTIONS = {
    "PER": "persons",
    "ORG": "organisations",
    "LOC": "locations",
    "MISC": "other names",
}
CARD_TAGS = [
    "token-classification",
    "ner",
    "named-entity-recognition",
    "xlm-roberta",
    "multilingual",
    "switzerland",
]
PANX_TAGS = ["pan-x", "wikiann"]
CARD_METRICS = ["precision", "recall", "f1"]
XLMR_BASE_HIDDEN_SIZE = 768
XLMR_BASE_LAYERS = 12
HYPERPARAMETER_FIELDS = [
    "model_name_or_path",
    "train_langs",
    "eval_split",
    "num_epochs",
    "max_steps",
    "batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "weight_decay",
    "warmup_ratio",
    "max_grad_norm",
    "max_length",
    "label_all_tokens",
    "consistency_weight",
    "matmul_precision",
    "max_train_samples",
    "max_eval_samples",
    "seed",
]


def canonical_base_model(name_or_path: str | None) -> str | None:
    """The Hub id to link as ``base_model`` (legacy ids under their organisation); None if local."""
    if not is_hub_model_id(name_or_path):
        return None
    return LEGACY_HUB_IDS.get(name_or_path, name_or_path)


def language_name(lang: str) -> str:
    return LANGUAGE_NAMES.get(lang, lang)


def card_languages(results: RunResults) -> list[str]:
    """The languages the model was trained or evaluated on, in the order of the mix."""
    used = {*results.train_langs, *results.eval_langs}
    return [lang for lang in results.config["langs"] if lang in used]


def is_panx(results: RunResults) -> bool:
    """Whether the run used PAN-X's label set, i.e. PAN-X data (from the Hub or local files)."""
    return set(results.label_names) == set(LABEL_NAMES)


def plain_widget(languages: list[str]) -> list[dict]:
    """Widget examples without outputs: one sentence per language."""
    return [
        {"text": WIDGET_EXAMPLES[lang], "example_title": language_name(lang)}
        for lang in languages
        if lang in WIDGET_EXAMPLES
    ]


def model_widget(model_dir: str | Path, languages: list[str]) -> list[dict]:
    """Widget examples with the stock pipeline's output on ``model_dir``; plain without it."""
    try:
        from swiss_ner.widget import widget_examples

        return widget_examples(model_dir, languages)
    except ImportError:
        return plain_widget(languages)


def _model_name(results: RunResults, repo_id: str | None) -> str:
    return repo_id.split("/")[-1] if repo_id else Path(results.config["output_dir"]).name


def _dataset_type(results: RunResults) -> str:
    return HUB_DATASET if is_panx(results) else Path(results.dataset.source).name


def _data_name(results: RunResults) -> str:
    return "PAN-X" if is_panx(results) else f"`{Path(results.dataset.source).name}`"


def split_dataset_name(results: RunResults, lang: str, split: str, num_sentences: int) -> str:
    """``PAN-X.fr test (Swiss mix, 2,290 sentences)``: never mistaken for the full split."""
    prefix = f"PAN-X.{lang}" if is_panx(results) else f"{_dataset_type(results)} {lang}"
    return f"{prefix} {split} (Swiss mix, {num_sentences:,} sentences)"


def _split_eval_results(
    results: RunResults, split: str, scores: dict[str, LanguageScores]
) -> list[EvalResult]:
    zero_shot = set(results.zero_shot_langs)
    eval_results = []
    for lang, language_scores in scores.items():
        suffix = ", zero-shot" if lang in zero_shot else ""
        for metric in CARD_METRICS:
            eval_results.append(
                EvalResult(
                    task_type="token-classification",
                    task_name="Named Entity Recognition",
                    dataset_type=_dataset_type(results),
                    dataset_name=split_dataset_name(
                        results, lang, split, language_scores.num_sentences
                    ),
                    dataset_config=f"PAN-X.{lang}" if is_panx(results) else lang,
                    dataset_split=split,
                    dataset_args={
                        "fraction": results.dataset.fracs[lang],
                        "seed": results.config["seed"],
                        "sentences": language_scores.num_sentences,
                    },
                    metric_type=metric,
                    metric_name=f"{metric.capitalize()} ({lang}, {split}{suffix})",
                    metric_value=round(float(getattr(language_scores, metric)), 4),
                )
            )
    return eval_results


def eval_results_from_results(results: RunResults) -> list[EvalResult]:
    """model-index entries: per split (headline first), language and metric (P, R, F1)."""
    eval_results = _split_eval_results(results, results.headline_split, results.headline_metrics)
    if results.test_metrics:
        eval_results += _split_eval_results(results, results.eval_split, results.metrics)
    return eval_results


def card_data_from_results(
    results: RunResults,
    repo_id: str | None,
    base_model: str | None = None,
    license: str = "apache-2.0",
    widget: list[dict] | None = None,
) -> ModelCardData:
    """The card's YAML metadata: languages, license, widget sentences and the model-index.

    ``base_model`` defaults to the run's ``model_name_or_path`` when that is a Hub id (under its
    canonical name); a local folder is left out, since the Hub links only Hub repositories.
    ``widget`` defaults to the example sentences without outputs.
    """
    base_model = canonical_base_model(base_model) if base_model else results.base_model
    languages = card_languages(results)
    panx = is_panx(results)
    return ModelCardData(
        language=languages,
        license=license,
        library_name="transformers",
        pipeline_tag="token-classification",
        base_model=base_model,
        datasets=[HUB_DATASET] if panx else None,
        metrics=list(CARD_METRICS),
        tags=CARD_TAGS + (PANX_TAGS if panx else []),
        model_name=_model_name(results, repo_id),
        eval_results=eval_results_from_results(results),
        widget=plain_widget(languages) if widget is None else widget,
    )


def format_f1(f1: float, interval: Interval | None) -> str:
    """``0.682 (0.671–0.693)``: the F1 and its 95% bootstrap interval, when there is one."""
    if interval is None:
        return f"{f1:.3f}"
    return f"{f1:.3f} ({interval.low:.3f}–{interval.high:.3f})"


def _type_f1(scores: EntityScores | None) -> str:
    return "–" if scores is None else format_f1(scores.f1, scores.f1_ci)


def _score_rows(results: RunResults, scores: dict[str, LanguageScores]) -> list[dict]:
    zero_shot = set(results.zero_shot_langs)
    return [
        {
            "language": f"{language_name(lang)} (`{lang}`)" + (" *" if lang in zero_shot else ""),
            "num_sentences": f"{language_scores.num_sentences:,}",
            "num_entities": f"{language_scores.num_entities:,}",
            "precision": f"{language_scores.precision:.3f}",
            "recall": f"{language_scores.recall:.3f}",
            "f1": format_f1(language_scores.f1, language_scores.f1_ci),
            "type_f1": [
                _type_f1(language_scores.per_type.get(entity)) for entity in results.entity_types
            ],
        }
        for lang, language_scores in scores.items()
    ]


def _truncation_notes(scores: dict[str, LanguageScores]) -> list[str]:
    return [
        f"{language_name(lang)} {s.truncated_sentences:,} sentence(s), "
        f"{s.truncated_entities:,} entity(ies)"
        for lang, s in scores.items()
        if s.truncated_sentences or s.truncated_entities
    ]


def _score_tables(results: RunResults) -> list[dict]:
    """The headline split's table first, then the evaluation split's when test leads."""
    splits = [(results.headline_split, results.headline_metrics)]
    if results.test_metrics:
        splits.append((results.eval_split, results.metrics))
    return [
        {
            "split": split,
            "rows": _score_rows(results, scores),
            "truncated": _truncation_notes(scores),
        }
        for split, scores in splits
    ]


def _data_splits(results: RunResults) -> list[str]:
    present = {split for sizes in results.dataset.sizes.values() for split in sizes}
    return [split for split in SPLITS if split in present]


def _data_rows(results: RunResults) -> list[dict]:
    dataset = results.dataset
    return [
        {
            "language": f"{language_name(lang)} (`{lang}`)",
            "fraction": dataset.fracs[lang],
            "sizes": [f"{sizes[split]:,}" if split in sizes else "–"
                      for split in _data_splits(results)],
            "entities": [
                f"{dataset.entity_counts[lang]['train'][entity]:,}"
                for entity in results.entity_types
            ],
        }
        for lang, sizes in dataset.sizes.items()
    ]


def _history_rows(results: RunResults) -> list[dict]:
    return [
        {
            "epoch": record.epoch,
            "step": record.step,
            "train_loss": record.train_loss,
            "f1": [
                f"{record.f1[lang]:.3f}" if lang in record.f1 else "–"
                for lang in results.eval_langs
            ],
        }
        for record in results.history
    ]


def _architecture(model_config: dict | None) -> str:
    if not model_config:
        return "architecture unknown"
    return (
        f"hidden size {model_config['hidden_size']}, "
        f"{model_config['num_hidden_layers']} layers, "
        f"vocabulary {model_config['vocab_size']}"
    )


def _is_smaller_than_base(model_config: dict | None) -> bool:
    if not model_config:
        return False
    return (
        model_config["hidden_size"] < XLMR_BASE_HIDDEN_SIZE
        or model_config["num_hidden_layers"] < XLMR_BASE_LAYERS
    )


def _base_model_sentence(
    trained_from: str, hub_id: str | None, model_config: dict | None
) -> str:
    if hub_id:
        return f"[{hub_id}]({HUB_URL}/{hub_id})"
    return (
        f"an XLM-RoBERTa model from a local folder (`{Path(trained_from).name}`, "
        f"{_architecture(model_config)}; not on the Hub)"
    )


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
    """The recipe's settings; a local base model shows as its folder name, not a local path."""
    config = results.config
    rows = [(name, _format_value(config.get(name))) for name in HYPERPARAMETER_FIELDS]
    local = f"local folder `{Path(config['model_name_or_path']).name}`"
    shown_model = results.base_model or local
    rows = [(name, shown_model if name == "model_name_or_path" else value) for name, value in rows]
    rows.append(("batching", results.batching.describe()))
    return rows


def _phrase(items: list[str]) -> str:
    """``a, b and c``."""
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def _entity_phrase(entity_types: list[str]) -> str:
    return _phrase(
        [
            f"{ENTITY_DESCRIPTIONS[entity]} ({entity})" if entity in ENTITY_DESCRIPTIONS
            else f"{entity} entities"
            for entity in entity_types
        ]
    )


def _intro_values(
    results: RunResults, repo_id: str | None, model_config: dict | None, space_id: str | None
) -> dict:
    """What the card says about the model, its use and its widget."""
    trained_from = results.config["model_name_or_path"]
    model_name = _model_name(results, repo_id)
    languages = card_languages(results)
    usage_lang = next((lang for lang in results.train_langs if lang in WIDGET_EXAMPLES), "de")
    return {
        "model_name": model_name,
        "repo_ref": repo_id or f"<your-org>/{model_name}",
        "entity_types": results.entity_types,
        "entity_list": _phrase(results.entity_types),
        "entity_phrase": _entity_phrase(results.entity_types),
        "language_phrase": _phrase([language_name(lang) for lang in languages]),
        "base_model_sentence": _base_model_sentence(
            trained_from, results.base_model, model_config
        ),
        "architecture": _architecture(model_config),
        "smaller_than_base": _is_smaller_than_base(model_config),
        "usage_example": WIDGET_EXAMPLES[usage_lang],
        "space_id": space_id,
        "space_url": f"{HUB_URL}/spaces/{space_id}" if space_id else None,
        "data_name": _data_name(results),
        "is_panx": is_panx(results),
    }


def _results_values(results: RunResults) -> dict:
    """The scores: tables per split, sub-word agreement, whole words and the history."""
    metrics = results.metrics
    return {
        "label_all_tokens": results.config["label_all_tokens"],
        "consistency_weight": results.config["consistency_weight"],
        "eval_split": results.eval_split,
        "held_out_split": results.headline_split if results.test_metrics else None,
        "train_langs": results.train_langs,
        "eval_langs": results.eval_langs,
        "zero_shot_langs": results.zero_shot_langs,
        "score_tables": _score_tables(results),
        "max_length": results.config["max_length"],
        "max_eval_samples": results.config["max_eval_samples"],
        "sampled": any(results.dataset.fracs[lang] < 1 for lang in results.eval_langs),
        "agreement_rows": [
            {"name": language_name(lang), "agreement": scores.subword_agreement}
            for lang, scores in metrics.items()
            if scores.subword_agreement is not None
        ],
        "whole_word_rows": [
            {
                "name": language_name(lang),
                "groups": scores.simple_groups,
                "share": scores.whole_word_groups,
            }
            for lang, scores in metrics.items()
            if scores.whole_word_groups is not None
        ],
        "history": _history_rows(results),
    }


def _training_values(results: RunResults) -> dict:
    """The data and the recipe."""
    return {
        "data_splits": _data_splits(results),
        "data_rows": _data_rows(results),
        "dataset_source": _dataset_source(results.dataset.source),
        "train_sentences": f"{results.dataset.train_sentences:,}",
        "truncated_train_sentences": results.dataset.truncated_train_sentences,
        "seed": results.config["seed"],
        "label_names": results.label_names,
        "num_processes": results.num_processes,
        "mixed_precision": results.mixed_precision,
        "train_steps": results.train_steps,
        "train_time": _train_time(results.train_time_s),
        "hyperparameters": _hyperparameters(results),
        "versions": list(results.versions.items()),
    }


def render_model_card(
    results: RunResults,
    repo_id: str | None = None,
    model_config: dict | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
    widget: list[dict] | None = None,
    space_id: str | None = None,
) -> ModelCard:
    """The model card of a run: metadata from :func:`card_data_from_results`, body from a template.

    ``model_config`` (the publish folder's ``config.json``) lets the card state the size of the
    model honestly when it is smaller than xlm-roberta-base; ``space_id`` names the demo Space
    the card points to.
    """
    card_data = card_data_from_results(results, repo_id, base_model, license, widget)
    return ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE_PATH),
        widget_examples=card_data.widget or [],
        widget_has_output=any("output" in example for example in card_data.widget),
        **_intro_values(results, repo_id, model_config, space_id),
        **_results_values(results),
        **_training_values(results),
    )


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


def write_model_card(
    output_dir: str | Path,
    repo_id: str | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
    space_id: str | None = None,
) -> Path:
    """Render ``output_dir/README.md`` from ``output_dir/results.json``, and the per-language CSV.

    The widget examples carry what the stock pipeline answers with the model in ``output_dir``.
    Returns the path of the card. Raises ``FileNotFoundError`` when ``results.json`` is missing
    and ``ValueError`` when it is not a run record of this version.
    """
    output_dir = Path(output_dir)
    results = RunResults.load(output_dir)
    config_path = output_dir / "config.json"
    model_config = json.loads(config_path.read_text()) if config_path.is_file() else None
    card = render_model_card(
        results,
        repo_id,
        model_config=model_config,
        base_model=base_model,
        license=license,
        widget=model_widget(output_dir, card_languages(results)),
        space_id=space_id,
    )
    card_path = output_dir / CARD_FILE
    card.save(card_path)
    write_per_language_results(results, output_dir / PER_LANGUAGE_FILE)
    return card_path
