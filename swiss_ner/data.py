"""PAN-X from the Hub or local IOB2 files, the Swiss mix, label alignment, entity counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from datasets import (
    ClassLabel,
    Dataset,
    DatasetDict,
    Features,
    Value,
    concatenate_datasets,
    load_dataset,
)
from datasets import Sequence as HFSequence

from swiss_ner.config import SWISS_FRACS, SWISS_LANGS

LABEL_NAMES: list[str] = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
ENTITY_TYPES: list[str] = ["PER", "ORG", "LOC"]
ID2LABEL: dict[int, str] = dict(enumerate(LABEL_NAMES))
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABEL_NAMES)}
SPLITS: tuple[str, ...] = ("train", "validation", "test")
HUB_DATASET = "google/xtreme"


def panx_features(label_names: Sequence[str] = LABEL_NAMES) -> Features:
    """The schema of the Hub's PAN-X configs, which the local reader reproduces exactly."""
    return Features(
        {
            "tokens": HFSequence(Value("string")),
            "ner_tags": HFSequence(ClassLabel(names=list(label_names))),
            "langs": HFSequence(Value("string")),
        }
    )


def read_iob2(path: str | Path, lang: str, label_names: Sequence[str] = LABEL_NAMES) -> dict:
    """Read a ``TOKEN<TAB>TAG`` file (blank line between sentences) into columns.

    Raises ``ValueError`` naming the file and line of the first malformed line.
    """
    path = Path(path)
    label2id = {label: i for i, label in enumerate(label_names)}
    columns: dict[str, list] = {"tokens": [], "ner_tags": [], "langs": []}
    tokens: list[str] = []
    tags: list[int] = []

    def close_sentence() -> None:
        if tokens:
            columns["tokens"].append(list(tokens))
            columns["ner_tags"].append(list(tags))
            columns["langs"].append([lang] * len(tokens))
            tokens.clear()
            tags.clear()

    with path.open(encoding="utf-8") as handle:
        for line_no, raw in enumerate(handle, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                close_sentence()
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0]:
                raise ValueError(f"{path}:{line_no}: expected 'TOKEN<TAB>TAG', got {line!r}")
            token, tag = parts
            if tag not in label2id:
                raise ValueError(
                    f"{path}:{line_no}: unknown tag {tag!r}; expected one of {list(label_names)}"
                )
            tokens.append(token)
            tags.append(label2id[tag])
    close_sentence()
    return columns


def load_panx(
    lang: str,
    data_dir: str | Path | None = None,
    label_names: Sequence[str] = LABEL_NAMES,
) -> DatasetDict:
    """PAN-X for one language, with features ``tokens``, ``ner_tags`` and ``langs``.

    With ``data_dir=None`` it loads ``google/xtreme`` config ``PAN-X.<lang>`` from the Hub;
    with a folder it reads every ``{split}-{lang}.tsv`` found there into the same schema.
    """
    if data_dir is None:
        return load_dataset(HUB_DATASET, name=f"PAN-X.{lang}")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    features = panx_features(label_names)
    splits = {}
    for split in SPLITS:
        path = folder / f"{split}-{lang}.tsv"
        if path.exists():
            splits[split] = Dataset.from_dict(read_iob2(path, lang, label_names), features=features)
    if not splits:
        raise FileNotFoundError(
            f"no {{train,validation,test}}-{lang}.tsv in {folder}; expected IOB2 files "
            f"named like train-{lang}.tsv"
        )
    return DatasetDict(splits)


def build_swiss_corpus(
    langs: Sequence[str] = SWISS_LANGS,
    fracs: Sequence[float] = SWISS_FRACS,
    seed: int = 42,
    data_dir: str | Path | None = None,
    label_names: Sequence[str] = LABEL_NAMES,
) -> dict[str, DatasetDict]:
    """Every split of every language shuffled with ``seed`` and cut to ``int(len * frac)``.

    The fractions are the language shares of Swiss text, so the corpus mirrors the customer.
    """
    if len(langs) != len(fracs):
        raise ValueError(f"{len(langs)} languages but {len(fracs)} fractions")
    corpus: dict[str, DatasetDict] = {}
    for lang, frac in zip(langs, fracs, strict=True):
        dataset = load_panx(lang, data_dir, label_names)
        corpus[lang] = DatasetDict(
            {
                split: ds.shuffle(seed=seed).select(range(int(ds.num_rows * frac)))
                for split, ds in dataset.items()
            }
        )
    return corpus


def concatenate_languages(
    corpus: dict[str, DatasetDict], langs: Iterable[str], split: str, seed: int = 42
) -> Dataset:
    """One shuffled dataset of ``split`` over ``langs`` (a single language is returned as is)."""
    langs = list(langs)
    if len(langs) == 1:
        return corpus[langs[0]][split]
    return concatenate_datasets([corpus[lang][split] for lang in langs]).shuffle(seed=seed)


def count_entities(dataset: Dataset) -> dict[str, int]:
    """Entities per type in a split, counted by their ``B-`` tags."""
    names = dataset.features["ner_tags"].feature.names
    counts: Counter[str] = Counter()
    for tags in dataset["ner_tags"]:
        for tag in tags:
            name = names[tag]
            if name.startswith("B-"):
                counts[name[2:]] += 1
    extra = sorted(set(counts) - set(ENTITY_TYPES))
    return {entity: counts.get(entity, 0) for entity in [*ENTITY_TYPES, *extra]}


def entity_table(corpus: dict[str, DatasetDict]):
    """The tag-balance table: one row per (language, split), one column per entity type."""
    import pandas as pd

    rows = []
    for lang, dataset in corpus.items():
        for split, ds in dataset.items():
            rows.append(
                {"lang": lang, "split": split, "sentences": ds.num_rows, **count_entities(ds)}
            )
    return pd.DataFrame(rows).set_index(["lang", "split"]).fillna(0).astype(int)


def continuation_label_map(label_names: Sequence[str]) -> list[int]:
    """For each label id, the id a word's continuation pieces get: ``B-X`` becomes ``I-X``."""
    index = {name: i for i, name in enumerate(label_names)}
    mapping = []
    for name in label_names:
        inside = "I-" + name[2:] if name.startswith("B-") else name
        mapping.append(index.get(inside, index[name]))
    return mapping


def align_labels(
    word_ids: Sequence[int | None],
    word_labels: Sequence[int],
    label_all_tokens: bool = False,
    continuation: Sequence[int] | None = None,
) -> list[int]:
    """Sub-word labels from word labels: the first piece carries the word's tag, special tokens
    get -100, later pieces -100 or (``label_all_tokens``) the word's tag with B- turned into I-."""
    labels = []
    previous = None
    for word_id in word_ids:
        if word_id is None:
            labels.append(-100)
        elif word_id != previous:
            labels.append(word_labels[word_id])
        elif label_all_tokens:
            label = word_labels[word_id]
            labels.append(continuation[label] if continuation is not None else label)
        else:
            labels.append(-100)
        previous = word_id
    return labels


def tokenize_and_align(
    dataset: Dataset,
    tokenizer,
    max_length: int = 512,
    label_all_tokens: bool = False,
    keep_columns: Sequence[str] = (),
) -> Dataset:
    """Tokenise pre-split words and align ``ner_tags`` to sub-words (see :func:`align_labels`)."""
    names = dataset.features["ner_tags"].feature.names
    continuation = continuation_label_map(names)

    def encode(batch: dict) -> dict:
        encoded = tokenizer(
            batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length
        )
        encoded["labels"] = [
            align_labels(encoded.word_ids(i), tags, label_all_tokens, continuation)
            for i, tags in enumerate(batch["ner_tags"])
        ]
        return encoded

    remove = [c for c in dataset.column_names if c not in keep_columns]
    return dataset.map(encode, batched=True, remove_columns=remove, desc="Tokenising")
