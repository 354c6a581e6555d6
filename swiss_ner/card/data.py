"""``SwissNerCardData``: everything a model card says, typed, filled from the run record once.

One ``ModelCardData`` subclass carries the Hub's YAML header (its standard fields, the widget
and the model-index) and what the body's template reads; :func:`card_data_from_results` is the
one place that turns a run record into a card. ``to_yaml`` writes the Hub fields only, exactly
as ``huggingface_hub`` writes them for a plain ``ModelCardData``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from huggingface_hub import EvalResult, ModelCardData

from swiss_ner.card import metadata
from swiss_ner.card.metadata import HUB_URL, card_languages, is_panx, language_name
from swiss_ner.card.sections import CardRecipe, CardScores, card_recipe, card_scores
from swiss_ner.constants import HUB_DATASET
from swiss_ner.results import RunResults
from swiss_ner.widget import WIDGET_EXAMPLES

ENTITY_DESCRIPTIONS = {
    "PER": "persons",
    "ORG": "organisations",
    "LOC": "locations",
    "MISC": "other names",
}
XLMR_BASE_HIDDEN_SIZE = 768
XLMR_BASE_LAYERS = 12


@dataclass
class SwissNerCardData(ModelCardData):
    """The card of one run: the Hub's metadata, what the model is, its scores and its recipe."""

    HUB_FIELDS: ClassVar[tuple[str, ...]] = (
        "language", "license", "library_name", "pipeline_tag", "base_model", "datasets",
        "metrics", "tags", "model_name", "eval_results", "widget",
    )

    # The Hub's metadata (the YAML header).
    language: list[str]
    base_model: str | None  # a Hub id; None for a local folder, which the Hub cannot link
    datasets: list[str] | None
    tags: list[str]
    model_name: str
    eval_results: list[EvalResult]
    widget: list[dict]  # each with "output" when the stock pipeline was run on the model
    # The model and its use.
    repo_ref: str  # the repository id, or a placeholder under the output folder's name
    entity_types: list[str]
    entity_list: str  # "PER, ORG and LOC"
    entity_phrase: str  # "persons (PER), organisations (ORG) and locations (LOC)"
    language_phrase: str
    base_model_sentence: str
    architecture: str
    smaller_than_base: bool  # the encoder is smaller than xlm-roberta-base: say so
    usage_example: str
    data_name: str
    is_panx: bool
    label_all_tokens: bool
    consistency_weight: float
    scores: CardScores
    recipe: CardRecipe
    space_id: str | None = None
    space_url: str | None = None
    license: str = "apache-2.0"
    library_name: str = "transformers"
    pipeline_tag: str = "token-classification"
    metrics: list[str] = field(default_factory=lambda: list(metadata.CARD_METRICS))

    def hub_metadata(self) -> ModelCardData:
        """The YAML header alone, as a plain ``ModelCardData`` (model-index from eval_results)."""
        return ModelCardData(**{name: getattr(self, name) for name in self.HUB_FIELDS})

    def to_yaml(self, line_break: str | None = None, **kwargs: Any) -> str:
        """The YAML header: the Hub fields only, never the body's."""
        return self.hub_metadata().to_yaml(line_break=line_break, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Every field by name, as ``ModelCard.from_template`` hands them to the template."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def card_data_from_results(
    results: RunResults,
    repo_id: str | None = None,
    *,
    space_id: str | None = None,
    model_config: dict | None = None,
    widget: list[dict] | None = None,
    base_model: str | None = None,
    license: str = "apache-2.0",
) -> SwissNerCardData:
    """The card of ``results``, to be published as ``repo_id`` (None: not named yet).

    ``model_config`` (the folder's ``config.json``) lets the card state the model's size when it
    is smaller than xlm-roberta-base; ``widget`` defaults to the example sentences without
    outputs; ``base_model`` overrides the run's own Hub id, under its canonical name.
    """
    config = results.config
    model_name = repo_id.split("/")[-1] if repo_id else Path(config.output_dir).name
    languages = card_languages(results)
    panx = is_panx(results)
    usage_lang = next((lang for lang in results.train_langs if lang in WIDGET_EXAMPLES), "de")
    return SwissNerCardData(
        language=languages,
        license=license,
        base_model=metadata.canonical_base_model(base_model) if base_model else results.base_model,
        datasets=[HUB_DATASET] if panx else None,
        tags=metadata.CARD_TAGS + (metadata.PANX_TAGS if panx else []),
        model_name=model_name,
        eval_results=metadata.eval_results(results, config.seed),
        widget=metadata.plain_widget(languages) if widget is None else widget,
        repo_ref=repo_id or f"<your-org>/{model_name}",
        entity_types=results.entity_types,
        entity_list=_phrase(results.entity_types),
        entity_phrase=_entity_phrase(results.entity_types),
        language_phrase=_phrase([language_name(lang) for lang in languages]),
        base_model_sentence=_base_model_sentence(
            config.model_name_or_path, results.base_model, model_config
        ),
        architecture=_architecture(model_config),
        smaller_than_base=_is_smaller_than_base(model_config),
        usage_example=WIDGET_EXAMPLES[usage_lang],
        data_name="PAN-X" if panx else f"`{Path(results.dataset.source).name}`",
        is_panx=panx,
        label_all_tokens=config.data.label_all_tokens,
        consistency_weight=config.optimisation.consistency_weight,
        scores=card_scores(results, config.data.max_eval_samples),
        recipe=card_recipe(results, config.seed, config.data.max_length),
        space_id=space_id,
        space_url=f"{HUB_URL}/spaces/{space_id}" if space_id else None,
    )


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


def _base_model_sentence(trained_from: str, hub_id: str | None, model_config: dict | None) -> str:
    if hub_id:
        return f"[{hub_id}]({HUB_URL}/{hub_id})"
    return (
        f"an XLM-RoBERTa model from a local folder (`{Path(trained_from).name}`, "
        f"{_architecture(model_config)}; not on the Hub)"
    )


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
