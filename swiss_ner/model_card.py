"""The Hub model card (README.md) and per-language result table of a publish folder.

The card is rendered from ``results.json`` with the Jinja template ``model_card.md`` through
``huggingface_hub.ModelCard.from_template``, so its YAML header (languages, widget examples,
model-index with one entry per evaluated language) is what the Hub reads, and its body is what
people read.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from swiss_ner.config import SWISS_FRACS, SWISS_LANGS
from swiss_ner.data import ENTITY_TYPES, HUB_DATASET, LABEL_NAMES, SPLITS

RESULTS_FILE = "results.json"
CARD_FILE = "README.md"
PER_LANGUAGE_FILE = "results_per_language.csv"
PACKAGED_TEMPLATE = Path(__file__).with_name("model_card_template.md")
SOURCE_TREE_TEMPLATE = Path(__file__).resolve().parents[1] / "model_card.md"

LANGUAGE_NAMES = {"de": "German", "fr": "French", "it": "Italian", "en": "English"}
WIDGET_EXAMPLES = {
    "de": "Angela Merkel besuchte am Montag die Credit Suisse in Zürich.",
    "fr": "Alain Berset a rencontré les dirigeants de Nestlé à Lausanne.",
    "it": "Ignazio Cassis ha visitato la sede della Banca della Svizzera Italiana a Lugano.",
    "en": "Roger Federer signed a new sponsorship deal with Rolex in Geneva.",
}
CARD_TAGS = [
    "token-classification",
    "ner",
    "named-entity-recognition",
    "xlm-roberta",
    "pan-x",
    "wikiann",
    "multilingual",
    "switzerland",
]
CARD_METRICS = ["precision", "recall", "f1"]
XLMR_BASE_HIDDEN_SIZE = 768
XLMR_BASE_LAYERS = 12
HYPERPARAMETER_FIELDS = [
    "model_name_or_path",
    "train_langs",
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
    "max_train_samples",
    "max_eval_samples",
    "seed",
]


def followed_link_stand_in(path: Path) -> Path:
    """``path``, or the file it names when it is a checked-out symlink stand-in.

    The packaged template is a symlink to the top-level ``model_card.md``. Where git cannot make
    symlinks (Windows without developer mode) it writes a small file holding the link target
    instead; rendering that would give a card reading "../model_card.md".
    """
    text = path.read_text(encoding="utf-8").strip()
    if "\n" not in text and "{{" not in text and text.endswith(".md"):
        target = (path.parent / text).resolve()
        if target.is_file():
            return target
    return path


def default_template_path() -> Path:
    """The card template: the copy shipped in the package, else the source tree's model_card.md."""
    for candidate in (PACKAGED_TEMPLATE, SOURCE_TREE_TEMPLATE):
        if candidate.is_file():
            return followed_link_stand_in(candidate)
    raise FileNotFoundError(
        f"model card template not found at {PACKAGED_TEMPLATE} or {SOURCE_TREE_TEMPLATE}"
    )


def is_hub_model_id(name_or_path: str | None) -> bool:
    """Whether ``name_or_path`` names a Hub model (``org/name``) rather than a local folder."""
    if not name_or_path or Path(name_or_path).expanduser().exists():
        return False
    if name_or_path.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(name_or_path)
    except HFValidationError:
        return False
    return True


def _model_name(results: dict, repo_id: str | None) -> str:
    if repo_id:
        return repo_id.split("/")[-1]
    output_dir = results.get("config", {}).get("output_dir") or "xlmr-panx-ch"
    return Path(output_dir).name


def _card_languages(results: dict) -> list[str]:
    return list(results.get("config", {}).get("langs") or SWISS_LANGS)


def eval_results_from_results(results: dict) -> list[EvalResult]:
    """One EvalResult per evaluated language and metric (precision, recall, F1) for model-index."""
    split = results.get("eval_split", "validation")
    zero_shot = set(results.get("zero_shot_langs", []))
    eval_results = []
    for lang, metrics in results["metrics"].items():
        suffix = ", zero-shot" if lang in zero_shot else ""
        for metric in CARD_METRICS:
            eval_results.append(
                EvalResult(
                    task_type="token-classification",
                    task_name="Named Entity Recognition",
                    dataset_type=HUB_DATASET,
                    dataset_name=f"PAN-X.{lang}",
                    dataset_config=f"PAN-X.{lang}",
                    dataset_split=split,
                    metric_type=metric,
                    metric_name=f"{metric.capitalize()} ({lang}{suffix})",
                    metric_value=round(float(metrics[metric]), 4),
                )
            )
    return eval_results


def card_data_from_results(
    results: dict,
    repo_id: str | None,
    base_model: str | None = None,
    license: str = "apache-2.0",
) -> ModelCardData:
    """The card's YAML metadata: languages, license, widget sentences and the model-index.

    ``base_model`` defaults to the run's ``model_name_or_path`` when that is a Hub id; a local
    folder is left out, since the Hub only links ``base_model`` to Hub repositories.
    """
    if base_model is None:
        trained_from = results.get("config", {}).get("model_name_or_path")
        base_model = trained_from if is_hub_model_id(trained_from) else None
    languages = _card_languages(results)
    widget = [
        {"text": WIDGET_EXAMPLES[lang], "example_title": LANGUAGE_NAMES.get(lang, lang)}
        for lang in languages
        if lang in WIDGET_EXAMPLES
    ]
    return ModelCardData(
        language=languages,
        license=license,
        library_name="transformers",
        pipeline_tag="token-classification",
        base_model=base_model,
        datasets=[HUB_DATASET],
        metrics=list(CARD_METRICS),
        tags=list(CARD_TAGS),
        model_name=_model_name(results, repo_id),
        eval_results=eval_results_from_results(results),
        widget=widget,
    )


def _format_f1(per_type: dict, entity: str) -> str:
    scores = per_type.get(entity)
    return f"{scores['f1']:.3f}" if scores else "–"


def _result_rows(results: dict) -> list[dict]:
    zero_shot = set(results.get("zero_shot_langs", []))
    rows = []
    for lang, metrics in results["metrics"].items():
        per_type = metrics.get("per_type", {})
        rows.append(
            {
                "lang": lang,
                "name": LANGUAGE_NAMES.get(lang, lang),
                "zero_shot": lang in zero_shot,
                "num_sentences": metrics.get("num_sentences", "–"),
                "precision": metrics["precision"],
                "recall": metrics["recall"],
                "f1": metrics["f1"],
                "per_f1": _format_f1(per_type, "PER"),
                "org_f1": _format_f1(per_type, "ORG"),
                "loc_f1": _format_f1(per_type, "LOC"),
            }
        )
    return rows


def _data_rows(results: dict) -> list[dict]:
    config = results.get("config", {})
    dataset = results.get("dataset", {})
    langs = config.get("langs") or list(SWISS_LANGS)
    fracs = dataset.get("fracs") or dict(
        zip(langs, config.get("fracs") or SWISS_FRACS, strict=False)
    )
    sizes = dataset.get("sizes", {})
    counts = dataset.get("entity_counts", {})
    rows = []
    for lang in langs:
        train_counts = counts.get(lang, {}).get("train", {})
        rows.append(
            {
                "lang": lang,
                "name": LANGUAGE_NAMES.get(lang, lang),
                "frac": fracs.get(lang, "–"),
                **{split: sizes.get(lang, {}).get(split, "–") for split in SPLITS},
                **{entity.lower(): train_counts.get(entity, "–") for entity in ENTITY_TYPES},
            }
        )
    return rows


def _history_rows(results: dict) -> list[dict]:
    rows = []
    for entry in results.get("history", []):
        f1 = entry.get("f1", {})
        rows.append(
            {
                "epoch": entry.get("epoch", "–"),
                "step": entry.get("step", "–"),
                "train_loss": float(entry.get("train_loss", float("nan"))),
                "f1_text": {lang: f"{value:.3f}" for lang, value in f1.items()}
                | {lang: "–" for lang in results["metrics"] if lang not in f1},
            }
        )
    return rows


def _architecture(model_config: dict | None) -> str:
    if not model_config:
        return "architecture unknown"
    return (
        f"hidden size {model_config.get('hidden_size', '?')}, "
        f"{model_config.get('num_hidden_layers', '?')} layers, "
        f"vocabulary {model_config.get('vocab_size', '?')}"
    )


def _is_smaller_than_base(model_config: dict | None) -> bool:
    if not model_config:
        return False
    return (
        model_config.get("hidden_size", XLMR_BASE_HIDDEN_SIZE) < XLMR_BASE_HIDDEN_SIZE
        or model_config.get("num_hidden_layers", XLMR_BASE_LAYERS) < XLMR_BASE_LAYERS
    )


def _base_model_sentence(trained_from: str, model_config: dict | None) -> str:
    if is_hub_model_id(trained_from):
        return f"[{trained_from}](https://huggingface.co/{trained_from})"
    return (
        f"an XLM-RoBERTa model from a local folder (`{Path(trained_from).name}`, "
        f"{_architecture(model_config)}; not on the Hub)"
    )


def _dataset_source(source: str | None) -> str:
    """Where the data came from, without publishing a local absolute path."""
    if not source or source == HUB_DATASET:
        return f"the Hub dataset `{HUB_DATASET}`"
    return f"local IOB2 files of the same data (`{Path(source).name}/`)"


def _train_time(seconds: float | None) -> str:
    if seconds is None:
        return "an unrecorded time"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def _format_value(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _hyperparameters(config: dict, trained_from: str) -> list[tuple[str, str]]:
    """The recipe's settings; a local base model shows as its folder name, not a local path."""
    rows = [(name, _format_value(config[name])) for name in HYPERPARAMETER_FIELDS if name in config]
    if is_hub_model_id(trained_from):
        return rows
    local = f"local folder `{Path(trained_from).name}`"
    return [(name, local if name == "model_name_or_path" else value) for name, value in rows]


def _template_values(results: dict, repo_id: str | None, model_config: dict | None) -> dict:
    config = results.get("config", {})
    trained_from = config.get("model_name_or_path") or "xlm-roberta-base"
    model_name = _model_name(results, repo_id)
    train_langs = results.get("train_langs") or config.get("train_langs") or []
    usage_lang = next((lang for lang in train_langs if lang in WIDGET_EXAMPLES), "de")
    return {
        "model_name": model_name,
        "repo_ref": repo_id or f"<your-org>/{model_name}",
        "base_model_sentence": _base_model_sentence(trained_from, model_config),
        "architecture": _architecture(model_config),
        "smaller_than_base": _is_smaller_than_base(model_config),
        "usage_example": WIDGET_EXAMPLES[usage_lang],
        "label_all_tokens": bool(config.get("label_all_tokens", True)),
        "eval_split": results.get("eval_split", "validation"),
        "train_langs": train_langs,
        "eval_langs": list(results["metrics"]),
        "zero_shot_langs": results.get("zero_shot_langs", []),
        "result_rows": _result_rows(results),
        "agreement_rows": [
            {"name": LANGUAGE_NAMES.get(lang, lang), "agreement": metrics["subword_agreement"]}
            for lang, metrics in results["metrics"].items()
            if "subword_agreement" in metrics
        ],
        "whole_word_rows": [
            {
                "name": LANGUAGE_NAMES.get(lang, lang),
                "groups": metrics["simple_groups"],
                "share": metrics["whole_word_groups"],
            }
            for lang, metrics in results["metrics"].items()
            if "whole_word_groups" in metrics
        ],
        "consistency_weight": config.get("consistency_weight", 0.0),
        "history": _history_rows(results),
        "data_rows": _data_rows(results),
        "dataset_source": _dataset_source(results.get("dataset", {}).get("source")),
        "seed": config.get("seed", 42),
        "label_names": LABEL_NAMES,
        "num_processes": results.get("num_processes", 1),
        "mixed_precision": results.get("mixed_precision", config.get("mixed_precision", "no")),
        "train_steps": results.get("train_steps", "?"),
        "train_time": _train_time(results.get("train_time_s")),
        "hyperparameters": _hyperparameters(config, trained_from),
        "versions": list(results.get("versions", {}).items()),
    }


def render_model_card(
    results: dict,
    repo_id: str | None = None,
    template_path: str | Path | None = None,
    model_config: dict | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
) -> ModelCard:
    """The model card of a run: metadata from :func:`card_data_from_results`, body from a template.

    ``model_config`` (the publish folder's ``config.json``) lets the card state the size of the
    model honestly when it is smaller than xlm-roberta-base.
    """
    card_data = card_data_from_results(results, repo_id, base_model=base_model, license=license)
    return ModelCard.from_template(
        card_data,
        template_path=str(template_path or default_template_path()),
        **_template_values(results, repo_id, model_config),
    )


def write_per_language_results(results: dict, path: str | Path) -> Path:
    """One CSV row per evaluated language: P/R/F1, accuracy, per-type F1 and whether zero-shot."""
    path = Path(path)
    zero_shot = set(results.get("zero_shot_langs", []))
    fieldnames = [
        "lang",
        "zero_shot",
        "split",
        "num_sentences",
        "precision",
        "recall",
        "f1",
        "accuracy",
        *[f"{entity}_{score}" for entity in ENTITY_TYPES for score in ("f1", "number")],
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        for lang, metrics in results["metrics"].items():
            per_type = metrics.get("per_type", {})
            row = {
                "lang": lang,
                "zero_shot": lang in zero_shot,
                "split": results.get("eval_split", "validation"),
                **{key: metrics.get(key) for key in fieldnames[3:8]},
            }
            for entity in ENTITY_TYPES:
                row[f"{entity}_f1"] = per_type.get(entity, {}).get("f1")
                row[f"{entity}_number"] = per_type.get(entity, {}).get("number")
            writer.writerow(row)
    return path


def write_model_card(
    output_dir: str | Path,
    repo_id: str | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
) -> Path:
    """Render ``output_dir/README.md`` from ``output_dir/results.json``, and the per-language CSV.

    Returns the path of the card. Raises ``FileNotFoundError`` when ``results.json`` is missing.
    """
    output_dir = Path(output_dir)
    results_path = output_dir / RESULTS_FILE
    if not results_path.is_file():
        raise FileNotFoundError(f"{results_path} not found: the model card is built from it")
    results = json.loads(results_path.read_text(encoding="utf-8"))
    config_path = output_dir / "config.json"
    model_config = json.loads(config_path.read_text()) if config_path.is_file() else None
    card = render_model_card(
        results, repo_id, model_config=model_config, base_model=base_model, license=license
    )
    card_path = output_dir / CARD_FILE
    card.save(card_path)
    write_per_language_results(results, output_dir / PER_LANGUAGE_FILE)
    return card_path
