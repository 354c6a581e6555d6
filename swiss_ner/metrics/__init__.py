"""The seqeval metric as an ``evaluate`` module shipped inside the package (works offline)."""

from __future__ import annotations

from pathlib import Path

import evaluate

SEQEVAL_SCRIPT = Path(__file__).with_name("seqeval_metric.py")


def load_seqeval(**kwargs) -> evaluate.EvaluationModule:
    """The seqeval metric from the script inside this package (works offline)."""
    return evaluate.load(str(SEQEVAL_SCRIPT), **kwargs)


__all__ = ["SEQEVAL_SCRIPT", "load_seqeval"]
