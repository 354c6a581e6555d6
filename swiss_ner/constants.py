"""The project's fixed names and numbers, stated once: labels, languages, shares, markers.

Only the standard library is imported here, so the command line can read these without
loading torch.
"""

from __future__ import annotations

# PAN-X's IOB2 tags in the Hub's ClassLabel order (ids 0..6); the default label set.
LABEL_NAMES: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
# Label id that the loss and the metric skip: special tokens, padding, unscored pieces.
IGNORE_INDEX = -100
# SentencePiece marks the first piece of a word with this prefix (XLM-R's tokenizer).
WORD_PREFIX = "▁"

# Languages of the Swiss mix and their shares of Swiss text (de, fr, it, en).
SWISS_LANGS: tuple[str, ...] = ("de", "fr", "it", "en")
SWISS_FRACS: tuple[float, ...] = (0.629, 0.229, 0.084, 0.059)
LANGUAGE_NAMES: dict[str, str] = {"de": "German", "fr": "French", "it": "Italian", "en": "English"}


def language_name(lang: str) -> str:
    """``German`` for ``de``; a code without a name stays as it is."""
    return LANGUAGE_NAMES.get(lang, lang)


# Tag schemes that files may be written in; they are converted to IOB2 as they are read.
TAG_SCHEMES: tuple[str, ...] = ("iob2", "iob1", "bioes")

SPLITS: tuple[str, ...] = ("train", "validation", "test")
HUB_DATASET = "google/xtreme"
# The canonical Hub id of the model the book fine-tunes (``xlm-roberta-base`` redirects here).
DEFAULT_MODEL = "FacebookAI/xlm-roberta-base"


def entity_types(label_names: tuple[str, ...] | list[str]) -> list[str]:
    """The entity types of an IOB2 label set, in order of first appearance (PER, ORG, LOC)."""
    types: list[str] = []
    for name in label_names:
        prefix, _, entity = name.partition("-")
        if prefix in ("B", "I") and entity and entity not in types:
            types.append(entity)
    return types


def split_tag(tag: str) -> tuple[str, str]:
    """``("B", "PER")`` from ``"B-PER"``, ``("O", "")`` for outside; a bare ``"PER"`` is inside."""
    if tag == "O" or not tag:
        return "O", ""
    prefix, dash, entity_type = tag.partition("-")
    if dash and prefix in {"B", "I"}:
        return prefix, entity_type
    return "I", tag


def check_iob2_labels(label_names: tuple[str, ...] | list[str]) -> None:
    """Raise ``ValueError`` unless every label is ``O``, ``B-X`` or ``I-X``.

    The model, metrics and tagger read IOB2 only; a BIOES set would train tags (``S-PER``,
    ``E-ORG``) that seqeval never counts as entities and the tagger splits into broken spans.
    """
    for name in label_names:
        prefix, dash, entity = name.partition("-")
        if name != "O" and not (dash and prefix in ("B", "I") and entity):
            raise ValueError(
                f"--label-names: {name!r} is not an IOB2 label (O, B-X, I-X); give the IOB2 "
                "names (such as O B-PER I-PER) and read IOB1 or BIOES files with "
                "--tag-scheme iob1 or --tag-scheme bioes"
            )

# Number formats a tagger can run its model in: float32, or bfloat16, faster on CPUs with AMX
# and usually on GPUs, with slightly different tags (bench/onnx_compare.py).
TAGGER_DTYPES: tuple[str, ...] = ("float32", "bfloat16")
