"""NER evaluation: the packaged seqeval metric and the conversion from model outputs to tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import evaluate
import numpy as np

SEQEVAL_SCRIPT = Path(__file__).with_name("seqeval_metric.py")
IGNORE_INDEX = -100


def load_seqeval(**kwargs) -> evaluate.EvaluationModule:
    """The seqeval metric from the script inside this package (works offline)."""
    return evaluate.load(str(SEQEVAL_SCRIPT), **kwargs)


def predictions_to_tags(
    predictions,
    labels,
    id2label: Mapping[int, str] | Sequence[str],
) -> tuple[list[list[str]], list[list[str]]]:
    """Predicted and gold tag strings per sentence, skipping positions whose label is -100.

    ``predictions`` holds label ids of shape (batch, length), or logits of shape
    (batch, length, num_labels), reduced with argmax. ``labels`` has shape (batch, length).
    """
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    if predictions.ndim == labels.ndim + 1:
        predictions = predictions.argmax(axis=-1)
    if predictions.shape != labels.shape:
        raise ValueError(
            f"predictions of shape {predictions.shape} do not match labels {labels.shape}"
        )
    predicted_tags: list[list[str]] = []
    gold_tags: list[list[str]] = []
    for sentence_predictions, sentence_labels in zip(predictions, labels, strict=True):
        keep = sentence_labels != IGNORE_INDEX
        predicted_tags.append([id2label[int(i)] for i in sentence_predictions[keep]])
        gold_tags.append([id2label[int(i)] for i in sentence_labels[keep]])
    return predicted_tags, gold_tags


__all__ = ["SEQEVAL_SCRIPT", "load_seqeval", "predictions_to_tags"]
