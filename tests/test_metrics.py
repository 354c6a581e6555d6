"""The packaged seqeval metric: offline, with the Hub's keys."""

from __future__ import annotations

import evaluate
import pytest

from swiss_ner.metrics import SEQEVAL_SCRIPT, load_seqeval

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
