"""Widget examples: the stock pipeline's entity groups, in a form the card's YAML holds."""

from __future__ import annotations

import pytest
import yaml
from huggingface_hub import ModelCardData, TokenClassificationOutputElement
from transformers import pipeline

from swiss_ner.widget import WIDGET_EXAMPLES, entity_groups, widget_examples

LANGUAGES = ["de", "fr", "it", "en"]


@pytest.fixture(scope="module")
def examples(trained_model_dir) -> list[dict]:
    return widget_examples(trained_model_dir, LANGUAGES)


def test_one_titled_example_per_language(examples):
    assert [example["text"] for example in examples] == [WIDGET_EXAMPLES[x] for x in LANGUAGES]
    assert [example["example_title"] for example in examples] == [
        "German",
        "French",
        "Italian",
        "English",
    ]


def without_scores(groups: list[dict]) -> list[tuple]:
    return [(g["entity_group"], g["word"], g["start"], g["end"]) for g in groups]


def test_outputs_are_what_the_stock_pipeline_returns(examples, trained_model_dir):
    ner = pipeline(
        "token-classification", model=str(trained_model_dir), aggregation_strategy="simple"
    )
    for example in examples:
        expected = ner(example["text"])
        assert without_scores(example["output"]) == without_scores(expected)
        assert [group["score"] for group in example["output"]] == pytest.approx(
            [float(group["score"]) for group in expected], abs=1e-4
        )
    assert any(example["output"] for example in examples), "the tiny model found no entity"


def test_outputs_follow_the_hub_token_classification_format(examples):
    assert sum(len(example["output"]) for example in examples) > 0, "no output to check"
    for example in examples:
        for group in example["output"]:
            element = TokenClassificationOutputElement.parse_obj_as_instance(group)
            assert element.entity_group in {"PER", "ORG", "LOC"}
            assert example["text"][element.start : element.end].strip()


def test_examples_serialise_into_the_card_yaml(examples):
    card_yaml = ModelCardData(widget=examples).to_yaml()
    assert yaml.safe_load(card_yaml)["widget"] == examples


def test_languages_without_a_sentence_are_skipped(trained_model_dir):
    only_german = widget_examples(trained_model_dir, ["rm", "de"])
    assert [example["example_title"] for example in only_german] == ["German"]


def test_entity_groups_are_plain_values():
    numpy = pytest.importorskip("numpy")
    raw = [
        {
            "entity_group": "LOC",
            "score": numpy.float32(0.912345),
            "word": "Bern",
            "start": 0,
            "end": 4,
        }
    ]
    assert entity_groups(raw) == [
        {"entity_group": "LOC", "score": 0.9123, "word": "Bern", "start": 0, "end": 4}
    ]
