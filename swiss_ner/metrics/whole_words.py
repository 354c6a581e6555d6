"""How often the stock pipeline's ``simple`` aggregation (what the Hub widget runs) returns whole
words: its entity groups re-formed from sub-word predictions, checked against word boundaries.

``pipeline("ner", aggregation_strategy="simple")`` takes each sub-word's argmax tag and joins
adjacent pieces of the same type unless a piece says ``B-``; a group that starts or ends inside a
word is a fragment such as ``Zü`` + ``rich``. Measuring this during evaluation, on the same
sub-word predictions, puts the widget's behaviour in ``results.json`` and on the model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import torch

WORD_PREFIX = "▁"


class PieceKind(IntEnum):
    """What a vocabulary piece is, for word boundaries in SentencePiece (``▁``-prefixed) text."""

    SPECIAL = 0
    WORD_START = 1
    BARE_PREFIX = 2
    CONTINUATION = 3


def piece_kinds(tokenizer) -> torch.Tensor | None:
    """The :class:`PieceKind` of every vocabulary id; None for tokenizers without ``▁`` words.

    A bare ``▁`` piece starts a word whose characters all sit in the next piece; the fast
    tokenizer gives it the offset of that next character, so a group may start right after it.
    """
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    if not any(piece.startswith(WORD_PREFIX) for piece in pieces if piece):
        return None
    special = set(tokenizer.all_special_ids)
    kinds = []
    for index, piece in enumerate(pieces):
        if index in special or not piece:
            kinds.append(PieceKind.SPECIAL)
        elif piece == WORD_PREFIX:
            kinds.append(PieceKind.BARE_PREFIX)
        elif piece.startswith(WORD_PREFIX):
            kinds.append(PieceKind.WORD_START)
        else:
            kinds.append(PieceKind.CONTINUATION)
    return torch.tensor(kinds, dtype=torch.long)


def _bio(tag: str) -> tuple[str, str]:
    """transformers' ``get_tag``: ``B-X`` -> (B, X), ``I-X`` -> (I, X), other tags -> (I, tag)."""
    if tag.startswith(("B-", "I-")):
        return tag[0], tag[2:]
    return "I", tag


def simple_groups(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entity groups as ``aggregation_strategy="simple"`` forms them: ``(first, last, type)``
    over piece positions, ``O`` groups left out (transformers' ``group_entities``)."""
    groups: list[tuple[int, int, str]] = []
    start = 0
    for position in range(1, len(tags) + 1):
        if position < len(tags):
            bi, entity = _bio(tags[position])
            if entity == _bio(tags[position - 1])[1] and bi != "B":
                continue
        entity = _bio(tags[start])[1]
        if entity != "O":
            groups.append((start, position - 1, entity))
        start = position
    return groups


def whole_word_groups(tags: Sequence[str], kinds: Sequence[int]) -> tuple[int, int]:
    """``(groups on word boundaries, all groups)`` for one sentence.

    ``tags`` and ``kinds`` (:class:`PieceKind`) cover the sentence's pieces without special
    tokens. A group is whole when its first character starts a word (its first piece starts a
    word, or follows a bare ``▁``) and the piece after its last one starts a new word.
    """
    whole = 0
    groups = simple_groups(tags)
    for first, last, _ in groups:
        starts = kinds[first] in (PieceKind.WORD_START, PieceKind.BARE_PREFIX) or (
            first > 0 and kinds[first - 1] == PieceKind.BARE_PREFIX
        )
        ends = kinds[last] != PieceKind.BARE_PREFIX and (
            last + 1 == len(kinds) or kinds[last + 1] != PieceKind.CONTINUATION
        )
        whole += starts and ends
    return whole, len(groups)
