"""Entities as the tagger reports them, decoded from per-word IOB2 tags.

Free of torch, so that a process that only passes entities on (the HTTP server, whose model
runs in a process of its own) can unpickle them without loading it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from swiss_ner.constants import split_tag
from swiss_ner.inference.words import Word


@dataclass(frozen=True)
class Entity:
    """One tagged entity: ``text == source[start:end]``, made of words ``word_start:word_end``."""

    text: str
    type: str
    score: float
    start: int
    end: int
    word_start: int
    word_end: int


def decode_iob2(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, first_word, end_word)`` from IOB2 tags, end exclusive.

    Lenient like seqeval's default mode: an ``I-X`` after ``O`` or after another type starts a new
    entity instead of being dropped, since a model's output need not be valid IOB2.
    """
    spans: list[tuple[str, int, int]] = []
    current_type, current_start = "", -1
    for index, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        continues = prefix == "I" and entity_type == current_type
        if current_type and not continues:
            spans.append((current_type, current_start, index))
            current_type = ""
        if prefix != "O" and not continues:
            current_type, current_start = entity_type, index
    if current_type:
        spans.append((current_type, current_start, len(tags)))
    return spans


def decode_entities(
    words: Sequence[Word],
    tags: Sequence[str],
    scores: Sequence[float],
    text: str | None = None,
    first_word: int = 0,
) -> list[Entity]:
    """Entities from per-word tags and scores; an entity's score is the mean of its words' scores.

    The entity text is ``text[start:end]`` of the original text, so it keeps the original spacing.
    Without ``text`` the words are laid out at their offsets with spaces in the gaps. Word indices
    count from ``first_word``, for ``words`` that are one sentence of a longer text.
    """
    if not len(words) == len(tags) == len(scores):
        raise ValueError(f"{len(words)} words, {len(tags)} tags and {len(scores)} scores")
    if text is None:
        text = _layout(words)
    entities = []
    for entity_type, first, last in decode_iob2(tags):
        start, end = words[first][1], words[last - 1][2]
        score = sum(scores[first:last]) / (last - first)
        entities.append(
            Entity(
                text[start:end],
                entity_type,
                float(score),
                start,
                end,
                first_word + first,
                first_word + last,
            )
        )
    return entities


def _layout(words: Sequence[Word]) -> str:
    """A text in which every word sits at its offsets, gaps filled with spaces."""
    pieces: list[str] = []
    position = 0
    for word, start, end in words:
        pieces.append(" " * (start - position) + word)
        position = end
    return "".join(pieces)
