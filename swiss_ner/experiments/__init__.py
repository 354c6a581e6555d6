"""Experiments on trained taggers: the cross-lingual transfer report and the error analysis.

Modules: :mod:`.runs` (which runs, cached and resumable), :mod:`.scores` (F1 with its spread,
the learning curve, the crossing point), :mod:`.markdown` and :mod:`.report` (the report and
``swiss-ner report``), :mod:`.error_analysis` (``swiss-ner analyse``), :mod:`.plots` and
:mod:`.tables` (figures and Markdown tables).
"""

from swiss_ner.experiments.error_analysis import (
    ErrorAnalysis,
    confusion_matrix,
    run_error_analysis,
    token_losses,
)
from swiss_ner.experiments.report import CrosslingualReport, build_report
from swiss_ner.experiments.scores import crossing_point
from swiss_ner.experiments.tables import markdown_table

__all__ = [
    "CrosslingualReport",
    "ErrorAnalysis",
    "build_report",
    "confusion_matrix",
    "crossing_point",
    "markdown_table",
    "run_error_analysis",
    "token_losses",
]
