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
from swiss_ner.inference import Entity, NerTagger
from swiss_ner.metrics import load_seqeval
from swiss_ner.modeling import XLMRobertaTokenClassification, build_model

__version__ = "0.1.0"

__all__ = [
    "LABEL_NAMES",
    "SWISS_FRACS",
    "SWISS_LANGS",
    "Entity",
    "NerTagger",
    "TrainConfig",
    "XLMRobertaTokenClassification",
    "build_model",
    "build_swiss_corpus",
    "count_entities",
    "entity_table",
    "load_panx",
    "load_seqeval",
    "tokenize_and_align",
]
