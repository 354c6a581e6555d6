"""Tag raw text: words and sentences with offsets (:mod:`.words`), entities (:mod:`.entities`),
the model (:mod:`.tagger`) and texts read from files (:mod:`.texts`).

The tagger imports torch, so it is imported on first use: a process that only handles words and
entities (the HTTP server in front of its model process) never loads torch.
"""

from swiss_ner.inference.entities import Entity, decode_entities, decode_iob2
from swiss_ner.inference.texts import read_text_lines
from swiss_ner.inference.words import (
    ABBREVIATIONS,
    Word,
    model_words,
    split_sentences,
    split_words,
)

_TAGGER_NAMES = ("ModelLoadError", "NerTagger")


def __getattr__(name: str):
    if name in _TAGGER_NAMES:
        from swiss_ner.inference import tagger

        return getattr(tagger, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
