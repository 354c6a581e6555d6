"""Evaluation: word tags, seqeval scores with bootstrap intervals, whole-word tallies."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, TokenClassificationPipeline

from swiss_ner.evaluation import (
    PieceKind,
    bootstrap_f1,
    piece_kinds,
    score_tags,
    simple_groups,
    whole_word_groups,
    word_tags,
)
from swiss_ner.metrics import load_seqeval

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def test_word_tags_skip_ignored_positions():
    id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    predictions = torch.tensor([[0, 1, 2, 2, 0], [1, 0, 0, 0, 0]])
    labels = torch.tensor([[-100, 1, 2, -100, -100], [-100, 1, 0, -100, -100]])
    predicted, gold = word_tags(predictions, labels, id2label)
    assert predicted == [["B-PER", "I-PER"], ["O", "O"]]
    assert gold == [["B-PER", "I-PER"], ["B-PER", "O"]]


class _StockGrouper:
    """transformers' own grouping code (``group_entities`` / ``get_tag``) on bare tag lists."""

    get_tag = TokenClassificationPipeline.get_tag
    group_entities = TokenClassificationPipeline.group_entities

    def group_sub_entities(self, entities: list[dict]) -> dict:
        return {
            "entity_group": self.get_tag(entities[0]["entity"])[1],
            "span": (entities[0]["index"], entities[-1]["index"]),
        }

    def groups(self, tags: list[str]) -> list[tuple[int, int, str]]:
        entities = [{"entity": tag, "index": i} for i, tag in enumerate(tags)]
        grouped = self.group_entities(entities) if entities else []
        return [(*g["span"], g["entity_group"]) for g in grouped if g["entity_group"] != "O"]


def test_simple_groups_match_the_pipelines_grouping():
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    rng = random.Random(0)
    stock = _StockGrouper()
    for _ in range(500):
        tags = [rng.choice(labels) for _ in range(rng.randint(0, 12))]
        assert simple_groups(tags) == stock.groups(tags), tags


def test_whole_word_groups_count_groups_cut_inside_words():
    start, cont, bare = PieceKind.WORD_START, PieceKind.CONTINUATION, PieceKind.BARE_PREFIX
    # "▁Zü rich ▁liegt": one group over the whole word.
    assert whole_word_groups(["B-LOC", "I-LOC", "O"], [start, cont, start]) == (1, 1)
    # "Zü" + "rich" with different types: two fragments.
    assert whole_word_groups(["B-LOC", "I-ORG", "O"], [start, cont, start]) == (0, 2)
    # A continuation piece that says B- starts a new group inside the word.
    assert whole_word_groups(["B-LOC", "B-LOC"], [start, cont]) == (0, 2)
    # An O word whose second piece says I-PER: a group that starts inside a word.
    assert whole_word_groups(["O", "I-PER", "B-LOC"], [start, cont, start]) == (1, 2)
    # A bare "▁" shares its offset with the next piece: a group may start after it.
    assert whole_word_groups(["O", "B-ORG", "I-ORG"], [bare, cont, start]) == (1, 1)
    # ...but a group that ends on the bare "▁" leaves the word's characters to the next group.
    assert whole_word_groups(["B-ORG", "I-ORG", "O"], [start, bare, cont]) == (0, 1)
    assert whole_word_groups([], []) == (0, 0)


def test_piece_kinds_of_a_sentencepiece_vocabulary(small_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    kinds = piece_kinds(tokenizer)
    assert kinds.shape == (len(tokenizer),)
    assert kinds[tokenizer.pad_token_id] == PieceKind.SPECIAL
    assert kinds[tokenizer.convert_tokens_to_ids("▁")] == PieceKind.BARE_PREFIX
    pieces = tokenizer.tokenize("Zürich")
    ids = tokenizer.convert_tokens_to_ids(pieces)
    assert [int(kinds[i]) for i in ids] == [PieceKind.WORD_START] + [PieceKind.CONTINUATION] * (
        len(pieces) - 1
    )


tag_sequences = st.lists(st.lists(st.sampled_from(TAGS), min_size=1, max_size=8),
                         min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(gold=tag_sequences, seed=st.integers(0, 10_000))
def test_score_tags_agree_with_seqeval_and_the_interval_holds_it(gold, seed):
    rng = random.Random(seed)
    predicted = [[tag if rng.random() < 0.7 else rng.choice(TAGS) for tag in s] for s in gold]
    scores = score_tags(predicted, gold, load_seqeval(), ["PER", "ORG", "LOC"])
    reference = load_seqeval().compute(predictions=predicted, references=gold)
    assert scores.f1 == pytest.approx(reference["overall_f1"])
    assert scores.num_sentences == len(gold)
    if scores.f1_ci is not None and scores.num_entities:
        assert 0.0 <= scores.f1_ci.low <= scores.f1_ci.high <= 1.0


def test_bootstrap_interval_is_seeded_and_narrows_with_more_sentences():
    rng = np.random.default_rng(0)
    gold, predicted = [], []
    for _ in range(2000):
        entity = rng.choice(["PER", "LOC"])
        gold.append([f"B-{entity}", "O"])
        predicted.append([f"B-{entity}" if rng.random() < 0.8 else "O", "O"])
    small, small_types = bootstrap_f1(predicted[:100], gold[:100], ["PER", "LOC"])
    large, large_types = bootstrap_f1(predicted, gold, ["PER", "LOC"])
    assert bootstrap_f1(predicted, gold, ["PER", "LOC"])[0] == large, "seeded"
    assert large.high - large.low < small.high - small.low
    f1 = 2 * 0.8 / 1.8  # recall 0.8, precision 1
    assert large.low < f1 < large.high
    assert set(large_types) == {"PER", "LOC"}
    assert bootstrap_f1([], [], ["PER"]) == (None, {})
