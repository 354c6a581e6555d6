"""The same PAN-X sentences written in the formats users have: IOB1, BIOES, CoNLL-2003 columns."""

from __future__ import annotations

from pathlib import Path


def panx_sentences(panx_dir: Path, split: str, count: int) -> list[list[tuple[str, str]]]:
    """The first ``count`` sentences of a PAN-X German file as (token, IOB2 tag) pairs."""
    sentences, current = [], []
    for line in (panx_dir / f"{split}-de.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            token, tag = line.split("\t")
            current.append((token, tag))
        elif current:
            sentences.append(current)
            current = []
            if len(sentences) == count:
                break
    return sentences


def as_iob1(tags: list[str]) -> list[str]:
    """IOB1 as older corpora write it: ``B-`` only where an entity follows one of its type."""
    return [f"I-{tag[2:]}" if tag.startswith("B-") and (i == 0 or tags[i - 1][2:] != tag[2:])
            else tag for i, tag in enumerate(tags)]


def as_bioes(tags: list[str]) -> list[str]:
    """BIOES: single words ``S-``, last words ``E-``."""
    written = []
    for i, tag in enumerate(tags):
        continued = i + 1 < len(tags) and tags[i + 1] == f"I-{tag[2:]}"
        if tag != "O":
            tag = {"B": "B" if continued else "S", "I": "I" if continued else "E"}[tag[0]] + tag[1:]
        written.append(tag)
    return written


def write_panx_as(folder: Path, sentences_by_split: dict, scheme: str, conll: bool = False) -> Path:
    """Write the sentences in ``scheme`` as TSV, or as CoNLL-2003 columns with -DOCSTART-."""
    convert = {"iob2": list, "iob1": as_iob1, "bioes": as_bioes}[scheme]
    folder.mkdir(parents=True, exist_ok=True)
    for split, sentences in sentences_by_split.items():
        lines = ["-DOCSTART- -X- -X- O", ""] if conll else []
        for sentence in sentences:
            tags = convert([tag for _, tag in sentence])
            for (token, _), tag in zip(sentence, tags, strict=True):
                lines.append(f"{token} NNP B-NP {tag}" if conll else f"{token}\t{tag}")
            lines.append("")
        (folder / f"{split}-de.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def panx_sample(panx_dir: Path, count: int) -> dict[str, list[list[tuple[str, str]]]]:
    """The first ``count`` German sentences of the train and validation splits."""
    return {split: panx_sentences(panx_dir, split, count) for split in ("train", "validation")}
