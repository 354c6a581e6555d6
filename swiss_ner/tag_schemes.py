"""Tag schemes of NER files (IOB2, IOB1, BIOES) and their conversion to IOB2 as files are read.

Corpora come in several schemes: IOB1 (older corpora, CoNLL-2003 as first published) begins an
entity with ``I-`` and uses ``B-`` only between two entities of one type; BIOES marks single
words ``S-`` and last words ``E-``. Read as IOB2, both give wrong entity counts and a model
that learns tags seqeval never reads as entities, without a warning. So every file is
converted to IOB2 while it is read, and the model, the metrics, the card and the tagger only
ever see IOB2. seqeval's scheme classes say which prefixes a scheme allows and which tag
continues an entity; only the rewriting to ``B-``/``I-`` is done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from seqeval.scheme import IOB1, IOB2, IOBES, Prefix, Token

from swiss_ner.constants import TAG_SCHEMES

SCHEMES: dict[str, type[Token]] = dict(zip(TAG_SCHEMES, (IOB2, IOB1, IOBES), strict=True))
# Prefixes that may begin an entity, beyond the continuation of one (IOB1: any of its tags).
_STARTS: dict[str, Prefix] = {"iob2": Prefix.B, "iob1": Prefix.B | Prefix.I,
                              "bioes": Prefix.B | Prefix.S}
_OTHERS = {"iob2": "--tag-scheme iob1 or --tag-scheme bioes",
           "iob1": "--tag-scheme iob2 or --tag-scheme bioes",
           "bioes": "--tag-scheme iob2 or --tag-scheme iob1"}


class TagSchemeError(ValueError):
    """A tag that breaks the file's scheme; ``index`` is its position in the sentence."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def _token(tag: str, scheme: str, index: int) -> Token:
    """seqeval's token of ``tag`` in ``scheme``, or a :class:`TagSchemeError` naming the schemes
    that allow its prefix."""
    try:
        token = SCHEMES[scheme](tag)
    except (KeyError, IndexError):
        raise TagSchemeError(index, f"{tag!r} is not a tag of any scheme (O, B-X, I-X, E-X, "
                                    "S-X)") from None
    if token.prefix not in token.allowed_prefix:
        fits = [f"--tag-scheme {name}" for name, kind in SCHEMES.items()
                if token.prefix in kind.allowed_prefix]
        hint = (f"if the file is written in another scheme, pass {' or '.join(fits)}" if fits
                else f"files are read in {', '.join(SCHEMES).upper()} only")
        raise TagSchemeError(index, f"{tag!r} is not an {scheme.upper()} tag; {hint}")
    return token


@lru_cache(maxsize=4096)
def _iob2_tag(scheme: str, previous: str, tag: str) -> str:
    """The IOB2 tag of ``tag`` after ``previous`` (both in ``scheme``; ``O`` at the start).

    Files hold a handful of distinct tags, so each pair is decided once (seqeval's classes
    are slow per token)."""
    token = _token(tag, scheme, 0)
    if token.prefix == Prefix.O:
        return "O"
    if token.is_inside(SCHEMES[scheme](previous)):
        return f"I-{token.tag}"
    if token.prefix in _STARTS[scheme]:
        return f"B-{token.tag}"
    raise TagSchemeError(
        0, f"{tag!r} follows {previous!r}, which {scheme.upper()} does not allow (an entity "
        f"{'starts with B-' if scheme == 'iob2' else 'starts with B- or S-'}); if the file is "
        f"written in another scheme, pass {_OTHERS[scheme]}"
    )


def to_iob2(tags: Sequence[str], scheme: str = "iob2") -> list[str]:
    """The IOB2 tags of one sentence whose ``tags`` are written in ``scheme``.

    A tag that cannot begin an entity and does not continue the one before it (an ``I-X``
    after ``O`` or after another type in IOB2, an ``E-X`` after ``O`` in BIOES) raises
    :class:`TagSchemeError`: such a file is in another scheme, or broken.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"--tag-scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    converted = []
    previous = "O"
    for index, tag in enumerate(tags):
        try:
            converted.append(_iob2_tag(scheme, previous, tag))
        except TagSchemeError as error:
            raise TagSchemeError(index, str(error)) from None
        previous = tag
    return converted
