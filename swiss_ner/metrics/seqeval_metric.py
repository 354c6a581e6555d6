"""Entity-level NER scores (seqeval) as an ``evaluate`` metric module shipped with swiss-ner, so
evaluation never fetches the metric script from the Hub. Output keys match the Hub's ``seqeval``."""

import datasets
import evaluate
from seqeval.metrics import accuracy_score, classification_report

_DESCRIPTION = """\
Entity-level precision, recall and F1 (micro average and per entity type) and token accuracy for
IOB-tagged sequences, computed with seqeval. Same output as the Hub's "seqeval" metric.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of lists of predicted tags, e.g. [["O", "B-PER", "I-PER"]].
    references: list of lists of gold tags, aligned with ``predictions``.
    scheme: optional seqeval scheme name ("IOB2", ...) for strict entity matching.
    mode: "strict" to count only exact matches under ``scheme``; default lenient (conlleval).
    zero_division: value for 0/0 precision or recall (0, 1 or "warn").
Returns:
    {entity_type: {"precision", "recall", "f1", "number"}, "overall_precision",
     "overall_recall", "overall_f1", "overall_accuracy"}
Example:
    >>> metric = swiss_ner.metrics.load_seqeval()
    >>> metric.compute(predictions=[["B-PER", "I-PER", "O"]], references=[["B-PER", "I-PER", "O"]])
"""

_CITATION = """\
@misc{seqeval,
  title={{seqeval}: A Python framework for sequence labeling evaluation},
  url={https://github.com/chakki-works/seqeval},
  author={Hiroki Nakayama},
  year={2018},
}
"""

TAG_SEQUENCE = datasets.Sequence(datasets.Value("string", id="label"), id="sequence")


class SeqevalMetric(evaluate.Metric):
    """Wraps ``seqeval.metrics.classification_report`` in the Hub ``seqeval`` output layout."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": TAG_SEQUENCE, "references": TAG_SEQUENCE}),
            homepage="https://github.com/chakki-works/seqeval",
            codebase_urls=["https://github.com/chakki-works/seqeval"],
        )

    def _compute(self, predictions, references, scheme=None, mode=None, zero_division=0):
        if scheme is not None:
            import seqeval.scheme

            if not hasattr(seqeval.scheme, scheme):
                raise ValueError(f"unknown seqeval scheme {scheme!r}")
            scheme = getattr(seqeval.scheme, scheme)
        report = classification_report(
            y_true=references,
            y_pred=predictions,
            output_dict=True,
            scheme=scheme,
            mode=mode,
            zero_division=zero_division,
        )
        overall = report.pop("micro avg")
        for average in ("macro avg", "weighted avg"):
            report.pop(average, None)
        scores = {
            entity_type: {
                "precision": float(values["precision"]),
                "recall": float(values["recall"]),
                "f1": float(values["f1-score"]),
                "number": int(values["support"]),
            }
            for entity_type, values in report.items()
        }
        scores["overall_precision"] = float(overall["precision"])
        scores["overall_recall"] = float(overall["recall"])
        scores["overall_f1"] = float(overall["f1-score"])
        scores["overall_accuracy"] = float(accuracy_score(y_true=references, y_pred=predictions))
        return scores
