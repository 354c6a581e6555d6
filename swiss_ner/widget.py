"""The model card's widget examples: one sentence per language, with the model's own answer.

The Hub runs a live widget only when an Inference Provider serves the model; a freshly pushed
user repository has none. The card's ``widget:`` metadata can still carry each example's
``output``, in the Inference Providers' token-classification format
(``huggingface_hub.TokenClassificationOutputElement``: ``entity_group``, ``score``, ``word``,
``start``, ``end``), which is exactly what ``pipeline(..., aggregation_strategy="simple")``
returns. The outputs are computed with that stock pipeline, so they are what a user gets.

transformers is imported inside :func:`widget_examples` only, so that importing the example
sentences (the model card does) stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from swiss_ner.constants import LANGUAGE_NAMES

WIDGET_EXAMPLES = {
    "de": "Angela Merkel besuchte am Montag die Credit Suisse in Zürich.",
    "fr": "Alain Berset a rencontré les dirigeants de Nestlé à Lausanne.",
    "it": "Ignazio Cassis ha visitato la sede della Banca della Svizzera Italiana a Lugano.",
    "en": "Roger Federer signed a new sponsorship deal with Rolex in Geneva.",
}
SCORE_DECIMALS = 4


def entity_groups(raw_groups: Iterable[dict]) -> list[dict]:
    """Pipeline entity groups as plain YAML/JSON values (the pipeline's scores are numpy floats)."""
    return [
        {
            "entity_group": str(group["entity_group"]),
            "score": round(float(group["score"]), SCORE_DECIMALS),
            "word": str(group["word"]),
            "start": int(group["start"]),
            "end": int(group["end"]),
        }
        for group in raw_groups
    ]


def widget_examples(model_dir: str | Path, languages: Iterable[str]) -> list[dict]:
    """One widget entry per language of ``languages`` that has an example sentence.

    Each is ``{"text", "example_title", "output"}`` where ``output`` lists the entity groups the
    stock ``pipeline("token-classification", aggregation_strategy="simple")`` finds in the
    sentence with the model in ``model_dir``; it fits ``ModelCardData(widget=...)`` as is.
    """
    from transformers import pipeline

    ner = pipeline("token-classification", model=str(model_dir), aggregation_strategy="simple")
    return [
        {
            "text": WIDGET_EXAMPLES[lang],
            "example_title": LANGUAGE_NAMES[lang],
            "output": entity_groups(ner(WIDGET_EXAMPLES[lang])),
        }
        for lang in languages
        if lang in WIDGET_EXAMPLES
    ]
