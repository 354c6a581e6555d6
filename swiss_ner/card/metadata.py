"""What the Hub reads from a card's YAML header: ids, languages, widget sentences, model-index.

Every model-index entry names its split as the Swiss-mix subsample with its real sentence count,
so a score is never mistaken for one on the full PAN-X split.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import EvalResult

from swiss_ner.config import is_hub_model_id
from swiss_ner.constants import (
    DEFAULT_MODEL,
    HUB_DATASET,
    LABEL_NAMES,
    language_name,
)
from swiss_ner.results import LanguageScores, RunResults
from swiss_ner.widget import WIDGET_EXAMPLES

HUB_URL = "https://huggingface.co"
# Un-namespaced ids the Hub redirects; the card names the canonical one.
LEGACY_HUB_IDS = {
    "xlm-roberta-base": DEFAULT_MODEL,
    "xlm-roberta-large": "FacebookAI/xlm-roberta-large",
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


def canonical_base_model(name_or_path: str | None) -> str | None:
    """The Hub id to link as ``base_model`` (legacy ids under their organisation); None if local."""
    if not is_hub_model_id(name_or_path):
        return None
    return LEGACY_HUB_IDS.get(name_or_path, name_or_path)


def card_languages(results: RunResults) -> list[str]:
    """The languages the model was trained or evaluated on, in the order of the mix."""
    used = {*results.train_langs, *results.eval_langs}
    return [lang for lang in results.config.data.langs if lang in used]


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


def dataset_type(results: RunResults) -> str:
    """The Hub dataset id for PAN-X, else the local data folder's name."""
    return HUB_DATASET if is_panx(results) else Path(results.dataset.source).name


def split_dataset_name(results: RunResults, lang: str, split: str, num_sentences: int) -> str:
    """``PAN-X.fr test (Swiss mix, 2,290 sentences)``: never mistaken for the full split."""
    prefix = f"PAN-X.{lang}" if is_panx(results) else f"{dataset_type(results)} {lang}"
    return f"{prefix} {split} (Swiss mix, {num_sentences:,} sentences)"


def _split_eval_results(
    results: RunResults, split: str, scores: dict[str, LanguageScores], seed: int
) -> list[EvalResult]:
    zero_shot = set(results.zero_shot_langs)
    panx = is_panx(results)
    return [
        EvalResult(
            task_type="token-classification",
            task_name="Named Entity Recognition",
            dataset_type=dataset_type(results),
            dataset_name=split_dataset_name(results, lang, split, language_scores.num_sentences),
            dataset_config=f"PAN-X.{lang}" if panx else lang,
            dataset_split=split,
            dataset_args={
                "fraction": results.dataset.fracs[lang],
                "seed": seed,
                "sentences": language_scores.num_sentences,
            },
            metric_type=metric,
            metric_name=f"{metric.capitalize()} ({lang}, {split}"
            f"{', zero-shot' if lang in zero_shot else ''})",
            metric_value=round(float(getattr(language_scores, metric)), 4),
        )
        for lang, language_scores in scores.items()
        for metric in CARD_METRICS
    ]


def eval_results(results: RunResults, seed: int) -> list[EvalResult]:
    """model-index entries: per split (headline first), language and metric (P, R, F1)."""
    entries = _split_eval_results(results, results.headline_split, results.headline_metrics, seed)
    if results.test_metrics:
        entries += _split_eval_results(results, results.eval_split, results.metrics, seed)
    return entries
