"""swiss-ner: an XLM-RoBERTa named-entity tagger (PER, ORG, LOC) for Swiss multilingual text."""

from swiss_ner.config import SWISS_FRACS, SWISS_LANGS, TrainConfig
from swiss_ner.data import (
    LABEL_NAMES,
    build_swiss_corpus,
    count_entities,
    entity_table,
    load_panx,
    tokenize_and_align,
)

__version__ = "0.1.0"

__all__ = [
    "LABEL_NAMES",
    "SWISS_FRACS",
    "SWISS_LANGS",
    "TrainConfig",
    "build_swiss_corpus",
    "count_entities",
    "entity_table",
    "load_panx",
    "tokenize_and_align",
]
