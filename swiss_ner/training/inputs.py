"""The data of a training run: the Swiss mix tokenised, and its training and evaluation loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from datasets import Dataset
from torch.utils.data import DataLoader
from transformers import DataCollatorForTokenClassification

from swiss_ner.config import ConfigError, TrainConfig
from swiss_ner.data import (
    LengthGroupedBatchSampler,
    PackingCollator,
    build_swiss_corpus,
    concatenate_languages,
    count_entities,
    tokenize_and_align,
    truncation_counts,
)
from swiss_ner.modeling import load_tokenizer
from swiss_ner.results import Batching, DatasetInfo


@dataclass
class TrainingData:
    """Tokenised training and evaluation sets, and what the run record says about them."""

    tokenizer: object
    train: Dataset
    eval_sets: dict[str, Dataset]
    test_sets: dict[str, Dataset]
    info: DatasetInfo
    truncated: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


def _encode(
    dataset: Dataset, tokenizer, config: TrainConfig, label_all: bool
) -> tuple[Dataset, tuple[int, int]]:
    max_length = min(config.data.max_length, tokenizer.model_max_length)
    encoded = tokenize_and_align(dataset, tokenizer, max_length, label_all)
    return encoded.remove_columns("cut_entities"), truncation_counts(encoded)


def _by_length(dataset: Dataset) -> Dataset:
    """Evaluation sets sorted by length: batches pad little, and scores do not depend on order."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    return dataset.select(sorted(range(len(lengths)), key=lengths.__getitem__))


def load_data(config: TrainConfig, label_names: list[str]) -> TrainingData:
    """The Swiss mix, tokenised: the training languages concatenated, evaluation per language."""
    data = config.data
    corpus = build_swiss_corpus(
        data.langs, data.fracs, config.seed, data.data_dir, label_names=label_names,
        tag_scheme=data.tag_scheme, tag_column=data.tag_column,
    )
    train_set = concatenate_languages(corpus, data.train_langs, "train", config.seed)
    if data.max_train_samples is not None:
        train_set = train_set.select(range(min(data.max_train_samples, train_set.num_rows)))
    tokenizer = load_tokenizer(config.model_name_or_path)
    train_encoded, train_cut = _encode(train_set, tokenizer, config, data.label_all_tokens)
    sets: dict[str, dict[str, Dataset]] = {data.eval_split: {}, "test": {}}
    truncated: dict[str, dict[str, tuple[int, int]]] = {data.eval_split: {}, "test": {}}
    for lang in data.eval_langs:
        for split in dict.fromkeys([data.eval_split, "test"]):
            if split not in corpus[lang]:
                if split == data.eval_split:
                    raise ConfigError(f"--eval-split: no {split!r} split for {lang!r}")
                continue
            dataset = corpus[lang][split]
            if data.max_eval_samples is not None:
                dataset = dataset.select(range(min(data.max_eval_samples, dataset.num_rows)))
            encoded, truncated[split][lang] = _encode(dataset, tokenizer, config, False)
            sets[split][lang] = _by_length(encoded)
    info = DatasetInfo(
        source=data.data_dir or "google/xtreme",
        fracs=dict(zip(data.langs, data.fracs, strict=True)),
        train_sentences=train_set.num_rows,
        sizes={lang: {s: ds.num_rows for s, ds in dd.items()} for lang, dd in corpus.items()},
        entity_counts={
            lang: {s: count_entities(ds) for s, ds in dd.items()} for lang, dd in corpus.items()
        },
        truncated_train_sentences=train_cut[0],
    )
    test_sets = sets["test"] if data.eval_split != "test" else {}
    return TrainingData(tokenizer, train_encoded, sets[data.eval_split], test_sets, info,
                        truncated)


def make_loaders(
    config: TrainConfig, data: TrainingData, batching: Batching
) -> tuple[DataLoader, dict[str, DataLoader], dict[str, DataLoader]]:
    """Training batches (length-grouped or shuffled) and evaluation batches per language."""
    pad_to = batching.pad_to
    collator = DataCollatorForTokenClassification(data.tokenizer, pad_to_multiple_of=pad_to)
    # Its own generator keeps each epoch's start from drawing on the global RNG, so a resumed
    # run sees the same dropout masks as an uninterrupted one.
    generator = torch.Generator().manual_seed(config.seed)
    options = config.batching
    if batching.group_by_length:
        lengths = [len(ids) for ids in data.train["input_ids"]]
        order = {"batch_sampler": LengthGroupedBatchSampler(
            lengths, options.batch_size, config.seed, options.length_group_size
        )}
    else:
        order = {"shuffle": True, "batch_size": options.batch_size}
    train_collator = (
        PackingCollator(data.tokenizer.pad_token_id, pad_to) if batching.pack else collator
    )
    train_loader = DataLoader(data.train, generator=generator, collate_fn=train_collator,
                              num_workers=options.num_workers, **order)

    def eval_loaders(sets: dict[str, Dataset]) -> dict[str, DataLoader]:
        return {
            lang: DataLoader(ds, batch_size=options.eval_batch_size, collate_fn=collator)
            for lang, ds in sets.items()
        }

    return train_loader, eval_loaders(data.eval_sets), eval_loaders(data.test_sets)


def resolve_batching(config: TrainConfig, device_type: str, mixed_precision: str) -> Batching:
    """The batching defaults filled in for the device, as measured (bench/RESULTS.md): random
    batches packed into few rows on the CPU, length-grouped batches on a GPU."""
    options = config.batching
    pack = options.pack if options.pack is not None else device_type == "cpu"
    group = options.group_by_length if options.group_by_length is not None else not pack
    return Batching(group_by_length=group, pack=pack,
                    pad_to=batch_padding(config, mixed_precision))


def batch_padding(config: TrainConfig, mixed_precision: str) -> int | None:
    """The multiple batches are padded to: few distinct shapes where kernels are made per shape
    (CUDA graphs; oneDNN's bfloat16 products), tensor-core multiples under mixed precision."""
    if config.batching.pad_to:
        return config.batching.pad_to
    if config.device.compile == "reduce-overhead":
        return 32
    reduced = mixed_precision != "no" or config.device.matmul_precision != "highest"
    return 8 if reduced else None
