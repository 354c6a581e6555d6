"""``swiss-ner analyse``: error analysis of a trained model; prints the tables, names the report."""

from __future__ import annotations

from swiss_ner.config import AnalyseConfig


def run(config: AnalyseConfig) -> int:
    """Analyse, then print the tables the report holds (main process only)."""
    from swiss_ner.experiments.error_analysis import run_error_analysis
    from swiss_ner.experiments.markdown import markdown_table

    result = run_error_analysis(config)
    if "markdown" not in result.paths:
        return 0
    print("Highest total loss:")
    print(markdown_table(result.sequence_scores))
    print("\nLoss by token:")
    print(markdown_table(result.by_token))
    print("\nLoss by gold label:")
    print(markdown_table(result.by_label))
    print("\nConfusion matrix (rows gold, normalised):")
    print(markdown_table(result.confusion, float_format="{:.2f}"))
    print(f"\n{len(result.suspects)} confident disagreements with the gold tags.")
    print(f"Report written to {result.paths['markdown']}")
    return 0
