"""``swiss-ner report``: the cross-lingual transfer report; prints its tables and names its file."""

from __future__ import annotations

from swiss_ner.config import ReportConfig


def run(config: ReportConfig) -> int:
    """Build the report (reusing finished runs) and print its summary and learning curve."""
    from swiss_ner.experiments.markdown import cell_table, markdown_table
    from swiss_ner.experiments.report import build_report

    report = build_report(config)
    findings = report.findings
    if not findings.summary.empty:
        print(markdown_table(cell_table(findings.summary, findings.names.langs)))
    if not findings.curve.empty:
        print(markdown_table(findings.curve.set_index("sentences")[["f1", "low", "high"]]))
    if "markdown" in report.paths:
        print(f"Report written to {report.paths['markdown']}")
    return 0
