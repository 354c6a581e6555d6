"""The packaged seqeval metric (offline, Hub-compatible keys) and the ids-to-tags conversion."""

from __future__ import annotations

import random

import evaluate
import numpy as np
import pytest
from transformers import AutoTokenizer, TokenClassificationPipeline

from swiss_ner.metrics import SEQEVAL_SCRIPT, load_seqeval, predictions_to_tags
from swiss_ner.metrics.whole_words import (
    PieceKind,
    piece_kinds,
    simple_groups,
    whole_word_groups,
)

REFERENCES = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
PREDICTIONS = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]


@pytest.fixture(scope="module")
def seqeval():
    return load_seqeval()


def test_seqeval_standard_example(seqeval):
    scores = seqeval.compute(predictions=PREDICTIONS, references=REFERENCES)
    assert list(scores) == [
        "MISC",
        "PER",
        "overall_precision",
        "overall_recall",
        "overall_f1",
        "overall_accuracy",
    ]
    assert scores["overall_f1"] == pytest.approx(0.5)
    assert scores["overall_precision"] == pytest.approx(0.5)
    assert scores["overall_recall"] == pytest.approx(0.5)
    assert scores["overall_accuracy"] == pytest.approx(0.8)
    assert scores["MISC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 1}
    assert scores["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "number": 1}


def test_seqeval_accumulates_batches(seqeval):
    for prediction, reference in zip(PREDICTIONS, REFERENCES, strict=True):
        seqeval.add_batch(predictions=[prediction], references=[reference])
    assert seqeval.compute()["overall_f1"] == pytest.approx(0.5)


def test_metric_script_is_package_data():
    assert SEQEVAL_SCRIPT.is_file()
    assert SEQEVAL_SCRIPT.parent.name == "metrics"


def test_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    scores = load_seqeval().compute(predictions=[["B-PER"]], references=[["B-PER"]])
    assert scores["overall_f1"] == 1.0


def test_predictions_to_tags_skips_ignored_positions():
    id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    predictions = np.array([[0, 1, 2, 2, 0], [1, 0, 0, 0, 0]])
    labels = np.array([[-100, 1, 2, -100, -100], [-100, 1, 0, -100, -100]])
    predicted, gold = predictions_to_tags(predictions, labels, id2label)
    assert predicted == [["B-PER", "I-PER"], ["O", "O"]]
    assert gold == [["B-PER", "I-PER"], ["B-PER", "O"]]


def test_predictions_to_tags_accepts_logits_and_label_lists():
    logits = np.eye(3)[[[0, 1, 2]]]
    predicted, gold = predictions_to_tags(logits, [[0, 1, -100]], ["O", "B-PER", "I-PER"])
    assert predicted == [["O", "B-PER"]]
    assert gold == [["O", "B-PER"]]


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
