"""PAN-X from the Hub or local files (TOKEN<TAB>TAG or CoNLL columns; IOB2, IOB1 or BIOES, read
as IOB2), the Swiss mix, label alignment, entity counts, and length-grouped and packed batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
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

from swiss_ner.constants import (
    HUB_DATASET,
    IGNORE_INDEX,
    LABEL_NAMES,
    SPLITS,
    SWISS_FRACS,
    SWISS_LANGS,
    check_iob2_labels,
    entity_types,
)
from swiss_ner.inference.texts import numbered_lines
from swiss_ner.inference.windows import block_diagonal, fill_rows, pack_rows
from swiss_ner.tag_schemes import TagSchemeError, to_iob2


def panx_features(label_names: Sequence[str] = LABEL_NAMES) -> Features:
    """The schema of the Hub's PAN-X configs, which the local reader reproduces exactly."""
    return Features(
        {
            "tokens": HFSequence(Value("string")),
            "ner_tags": HFSequence(ClassLabel(names=list(label_names))),
            "langs": HFSequence(Value("string")),
        }
    )


def _columns(line: str) -> list[str]:
    """A line's columns: split at tabs when it has one (so tokens may hold spaces), else at
    runs of whitespace, as CoNLL-2003 files are written (``EU NNP B-NP B-ORG``)."""
    return line.split("\t") if "\t" in line else line.split()


def _tag_ids(
    path: Path, sentence: list[tuple[int, str]], tag_scheme: str, label2id: dict[str, int]
) -> list[int]:
    """The label ids of one sentence's ``(line, tag)`` pairs, converted to IOB2 on the way."""
    try:
        tags = to_iob2([tag for _, tag in sentence], tag_scheme)
    except TagSchemeError as error:
        raise ValueError(f"{path}:{sentence[error.index][0]}: {error}") from None
    for (line_no, raw), tag in zip(sentence, tags, strict=True):
        if tag not in label2id:
            raise ValueError(
                f"{path}:{line_no}: unknown tag {raw!r}; expected one of {list(label2id)} "
                "(pass your label set with --label-names)"
            )
    return [label2id[tag] for tag in tags]


def read_iob2(
    path: str | Path,
    lang: str,
    label_names: Sequence[str] = LABEL_NAMES,
    tag_scheme: str = "iob2",
    tag_column: int | None = None,
) -> dict:
    """Read a ``TOKEN<TAB>TAG`` or CoNLL column file (blank line between sentences) into
    columns, its tags converted from ``tag_scheme`` to IOB2.

    Columns are tab-separated when a line holds a tab, else whitespace-separated; the token is
    the first, the tag the last (or the 1-based ``tag_column``); ``-DOCSTART-`` lines are
    skipped. Raises ``ValueError`` naming the file and line of the first malformed line, and
    for a file without a single sentence.
    """
    path = Path(path)
    check_iob2_labels(label_names)
    if tag_column is not None and tag_column < 2:
        raise ValueError(f"--tag-column must be at least 2 (1 is the token), got {tag_column}")
    label2id = {label: i for i, label in enumerate(label_names)}
    columns: dict[str, list] = {"tokens": [], "ner_tags": [], "langs": []}
    tokens: list[str] = []
    tags: list[tuple[int, str]] = []
    where = -1 if tag_column is None else tag_column - 1
    for line_no, line in [*numbered_lines(path), (0, "")]:
        if not line.strip():
            if tokens:
                columns["tokens"].append(tokens)
                columns["ner_tags"].append(_tag_ids(path, tags, tag_scheme, label2id))
                columns["langs"].append([lang] * len(tokens))
                tokens, tags = [], []
            continue
        parts = _columns(line)
        if parts[0] == "-DOCSTART-":
            continue
        if len(parts) < 2 or not parts[0] or where >= len(parts):
            expected = "'TOKEN<TAB>TAG' or CoNLL columns 'TOKEN ... TAG'"
            if tag_column is not None:
                expected += f" with the tag in column {tag_column}"
            raise ValueError(f"{path}:{line_no}: expected {expected}, got {line!r}")
        tokens.append(parts[0])
        tags.append((line_no, parts[where]))
    if not columns["tokens"]:
        raise ValueError(f"{path}: no sentences (the file is empty or blank)")
    return columns


def load_panx(
    lang: str,
    data_dir: str | Path | None = None,
    label_names: Sequence[str] = LABEL_NAMES,
    tag_scheme: str = "iob2",
    tag_column: int | None = None,
) -> DatasetDict:
    """PAN-X for one language, with features ``tokens``, ``ner_tags`` and ``langs``.

    With ``data_dir=None`` it loads ``google/xtreme`` config ``PAN-X.<lang>`` from the Hub
    (IOB2); with a folder it reads every ``{split}-{lang}.tsv`` found there into the same
    schema, tags converted from ``tag_scheme`` (see :func:`read_iob2`).
    """
    check_iob2_labels(label_names)
    if data_dir is None:
        if tag_scheme != "iob2" or tag_column is not None:
            raise ValueError(
                f"--tag-scheme and --tag-column describe files in --data-dir; {HUB_DATASET} is "
                "read as published (IOB2)"
            )
        return load_dataset(HUB_DATASET, name=f"PAN-X.{lang}")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    features = panx_features(label_names)
    splits = {}
    for split in SPLITS:
        path = folder / f"{split}-{lang}.tsv"
        if path.exists():
            columns = read_iob2(path, lang, label_names, tag_scheme, tag_column)
            splits[split] = Dataset.from_dict(columns, features=features)
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
    tag_scheme: str = "iob2",
    tag_column: int | None = None,
) -> dict[str, DatasetDict]:
    """Every split of every language shuffled with ``seed`` and cut to ``int(len * frac)``.

    The fractions are the language shares of Swiss text, so the corpus mirrors the customer.
    Local files are read in ``tag_scheme`` and converted to IOB2 (see :func:`read_iob2`).
    """
    if len(langs) != len(fracs):
        raise ValueError(f"{len(langs)} languages but {len(fracs)} fractions")
    corpus: dict[str, DatasetDict] = {}
    for lang, frac in zip(langs, fracs, strict=True):
        if not 0 < frac <= 1:
            raise ValueError(f"--fracs must lie in (0, 1], got {frac} for {lang}")
        dataset = load_panx(lang, data_dir, label_names, tag_scheme, tag_column)
        splits = {}
        for split, ds in dataset.items():
            kept = int(ds.num_rows * frac)
            if kept == 0:
                raise ValueError(
                    f"--fracs {frac} keeps no sentence of the {ds.num_rows} in {lang} {split}"
                )
            splits[split] = ds.shuffle(seed=seed).select(range(kept))
        corpus[lang] = DatasetDict(splits)
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
    return {entity: counts.get(entity, 0) for entity in entity_types(names)}


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
    get the ignore index, later pieces too or (``label_all_tokens``) the word's tag with B-
    turned into I-."""
    labels = []
    previous = None
    for word_id in word_ids:
        if word_id is None:
            labels.append(IGNORE_INDEX)
        elif word_id != previous:
            labels.append(word_labels[word_id])
        elif label_all_tokens:
            label = word_labels[word_id]
            labels.append(continuation[label] if continuation is not None else label)
        else:
            labels.append(IGNORE_INDEX)
        previous = word_id
    return labels


def tokenize_and_align(
    dataset: Dataset,
    tokenizer,
    max_length: int = 512,
    label_all_tokens: bool = False,
) -> Dataset:
    """Tokenise pre-split words and align ``ner_tags`` to sub-words (see :func:`align_labels`).

    Sentences longer than ``max_length`` sub-words lose their tail; the column ``cut_entities``
    says how many gold entities each sentence lost that way (-1: none cut), so that the loss is
    counted and reported rather than silent (:func:`truncation_counts`).
    """
    names = dataset.features["ner_tags"].feature.names
    continuation = continuation_label_map(names)

    def encode(batch: dict) -> dict:
        encoded = tokenizer(
            batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length
        )
        encoded["labels"] = []
        encoded["cut_entities"] = []
        for i, tags in enumerate(batch["ner_tags"]):
            word_ids = encoded.word_ids(i)
            encoded["labels"].append(align_labels(word_ids, tags, label_all_tokens, continuation))
            kept = max((w for w in word_ids if w is not None), default=-1) + 1
            cut = -1 if kept == len(tags) else sum(names[t].startswith("B-") for t in tags[kept:])
            encoded["cut_entities"].append(cut)
        return encoded

    return dataset.map(
        encode, batched=True, remove_columns=dataset.column_names, desc="Tokenising"
    )


def truncation_counts(encoded: Dataset) -> tuple[int, int]:
    """``(sentences cut at max_length, gold entities lost with their tails)``."""
    cut = [count for count in encoded["cut_entities"] if count >= 0]
    return len(cut), sum(cut)


class LengthGroupedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of sentences of similar length, so that little of each batch is padding.

    Each epoch the sentences are shuffled, cut into mega-batches of ``mega_batches`` batches,
    sorted by length inside each, cut into batches, and the batch order is shuffled again. The
    order depends only on ``seed`` and the epoch, so every process draws the same batches
    (accelerate shards them) and a resumed run sees the batches an uninterrupted one would.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, seed: int, mega_batches: int = 8
    ) -> None:
        self.lengths = torch.as_tensor(list(lengths))
        self.batch_size = batch_size
        self.seed = seed
        self.mega_batches = mega_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        mega = self.batch_size * self.mega_batches
        batches = []
        for start in range(0, len(order), mega):
            chunk = order[start : start + mega]
            chunk = chunk[torch.argsort(self.lengths[chunk], descending=True, stable=True)]
            batches += chunk.split(self.batch_size)
        for index in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[index].tolist()


class PackingCollator:
    """Packs a batch's sentences into as few rows as its longest sentence allows.

    First-fit over the sentences sorted longest first; each sentence keeps its own positions
    (restarting after the padding index, as XLM-R numbers them) and attends only to itself
    through a block-diagonal mask (``batch x 1 x length x length``, True = attend). The loss
    and the logits of every sentence are those of the padded batch, with a fraction of the
    padding, so random batches cost about what length-sorted ones do. Padding attends only to
    padding, which keeps its (ignored) outputs finite.
    """

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of or 1

    def rows(self, lengths: Sequence[int]) -> tuple[list[list[int]], int]:
        """Indices of the sentences in each row, and the row length."""
        multiple = self.pad_to_multiple_of
        width = -(-max(lengths) // multiple) * multiple
        rows = pack_rows(lengths, width)
        return rows, width

    def __call__(self, features: Sequence[dict]) -> dict[str, torch.Tensor]:
        lengths = [len(feature["input_ids"]) for feature in features]
        rows, width = self.rows(lengths)
        tensors = fill_rows(rows, width, self.pad_token_id, {
            "input_ids": ([f["input_ids"] for f in features], self.pad_token_id),
            "labels": ([f["labels"] for f in features], IGNORE_INDEX),
        })
        return {"input_ids": tensors["input_ids"],
                "attention_mask": block_diagonal(tensors["segments"]),
                "position_ids": tensors["position_ids"], "labels": tensors["labels"]}
