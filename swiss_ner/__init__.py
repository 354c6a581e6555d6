"""swiss-ner: an XLM-RoBERTa named-entity tagger for Swiss multilingual text.

The public names are imported lazily (PEP 562), so ``import swiss_ner`` and ``swiss-ner --help``
do not load torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_PUBLIC: dict[str, str] = {
    "LABEL_NAMES": "swiss_ner.constants",
    "SWISS_FRACS": "swiss_ner.constants",
    "SWISS_LANGS": "swiss_ner.constants",
    "TrainConfig": "swiss_ner.config",
    "build_swiss_corpus": "swiss_ner.data",
    "count_entities": "swiss_ner.data",
    "entity_table": "swiss_ner.data",
    "load_panx": "swiss_ner.data",
    "tokenize_and_align": "swiss_ner.data",
    "XLMRobertaTokenClassification": "swiss_ner.modeling",
    "build_model": "swiss_ner.modeling",
    "train": "swiss_ner.training",
    "RunResults": "swiss_ner.results",
    "load_seqeval": "swiss_ner.metrics",
    "Entity": "swiss_ner.inference",
    "NerTagger": "swiss_ner.inference",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'swiss_ner' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
