"""Experiments on trained taggers: cross-lingual transfer strategies and error analysis."""

from swiss_ner.experiments.crosslingual import (
    CrosslingualReport,
    crossing_point,
    run_crosslingual,
)
from swiss_ner.experiments.error_analysis import (
    ErrorAnalysis,
    confusion_matrix,
    run_error_analysis,
    token_losses,
)
from swiss_ner.experiments.tables import markdown_table

__all__ = [
    "CrosslingualReport",
    "ErrorAnalysis",
    "confusion_matrix",
    "crossing_point",
    "markdown_table",
    "run_crosslingual",
    "run_error_analysis",
    "token_losses",
]
