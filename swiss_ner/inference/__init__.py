"""Tag raw text: words and sentences with offsets (:mod:`.words`), the model (:mod:`.tagger`)
and texts read from files (:mod:`.texts`)."""

from swiss_ner.inference.tagger import (
    Entity,
    ModelLoadError,
    NerTagger,
    decode_entities,
    decode_iob2,
)
from swiss_ner.inference.texts import read_text_lines
from swiss_ner.inference.words import (
    ABBREVIATIONS,
    Word,
    model_words,
    split_sentences,
    split_words,
)

__all__ = [
    "ABBREVIATIONS",
    "Entity",
    "ModelLoadError",
    "NerTagger",
    "Word",
    "decode_entities",
    "decode_iob2",
    "model_words",
    "read_text_lines",
    "split_sentences",
    "split_words",
]
