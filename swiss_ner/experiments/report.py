"""Cross-lingual transfer: is a German-only model good enough for fr/it/en, and how many
labelled French sentences beat zero-shot transfer?

``swiss-ner report`` plans the runs of the chosen strategies (:mod:`.runs`), trains or reuses
each with every seed, turns their results into numbers with uncertainty (:mod:`.scores`) and
writes ``crosslingual.md`` (:mod:`.markdown`), CSV tables and figures (:mod:`.plots`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from swiss_ner.config import ReportConfig, TrainConfig
from swiss_ner.experiments.markdown import language_name, render_markdown
from swiss_ner.experiments.plots import CurveLabels, plot_f1_bars, plot_learning_curve
from swiss_ner.experiments.runs import (
    RunTable,
    TrainFn,
    available_train_sentences,
    curve_sizes_capped,
    plan_runs,
    run_all,
)
from swiss_ner.experiments.scores import Findings, RowNames, find_all, pivot
from swiss_ner.results import RunResults

logger = logging.getLogger(__name__)


@dataclass
class CrosslingualReport:
    """What :func:`build_report` found and wrote."""

    findings: Findings
    results: RunTable
    capped_note: str | None = None
    paths: dict[str, Path] = field(default_factory=dict)


def curve_plan(config: ReportConfig) -> tuple[list[int], str | None]:
    """The learning-curve sizes to train, capped at the target language's training sentences,
    and a note naming the sizes that were capped."""
    if "learning-curve" not in config.strategies:
        return [], None
    available = available_train_sentences(config.training, config.target_lang)
    sizes = curve_sizes_capped(config.curve_sizes, available)
    dropped = sorted(size for size in config.curve_sizes if size > available)
    if not dropped:
        return sizes, None
    return sizes, (
        f"Sizes {dropped} exceed the {available} {config.target_lang} training sentences "
        f"available and were capped at {available}."
    )


def _default_train(config: TrainConfig) -> RunResults:
    from swiss_ner import training

    return training.train(config)


def build_report(config: ReportConfig, train_fn: TrainFn | None = None) -> CrosslingualReport:
    """Run (or reuse) every sub-run of the chosen strategies with every seed and write the
    report files into ``config.report_dir``."""
    config.validate()
    report_dir = Path(config.report_dir)
    runs_dir = report_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    sizes, capped_note = curve_plan(config)
    langs = config.training.data.langs
    runs = plan_runs(langs, config.strategies, sizes, config.source_lang,
                     config.target_lang, config.training.data.max_train_samples)
    results = run_all(runs, config, runs_dir, train_fn or _default_train)
    names = RowNames(tuple(langs), config.source_lang, config.target_lang)
    report = CrosslingualReport(find_all(runs, results, names), results, capped_note)
    write_report(config, report)
    return report


def _band_label(findings: Findings) -> str:
    if findings.seeds > 1:
        return f"± 1 std over {findings.seeds} seeds"
    return "95% bootstrap CI"


def _plot(config: ReportConfig, findings: Findings, report_dir: Path) -> dict[str, Path]:
    """The F1 bars with error bars and the learning curve with its bands."""
    paths: dict[str, Path] = {}
    model = config.training.model_name_or_path
    if not findings.summary.empty:
        paths["bars"] = plot_f1_bars(
            findings.table, report_dir / "crosslingual.png",
            title=f"Cross-lingual transfer, {model}",
            low=pivot(findings.summary, "low", findings.names.langs),
            high=pivot(findings.summary, "high", findings.names.langs),
            error_label=_band_label(findings),
        )
    if not findings.curve.empty:
        target, source = config.target_lang, config.source_lang
        crossing = findings.crossing
        paths["curve"] = plot_learning_curve(
            findings.curve, report_dir / "learning_curve.png",
            baseline=findings.zero_shot,
            crossing=crossing.sentences if crossing else None,
            crossing_spread=crossing.spread if crossing and findings.seeds > 1 else None,
            labels=CurveLabels(
                title=f"{target} learning curve, {model}",
                xlabel=f"{target} training sentences (log scale)",
                ylabel=f"{target} F1",
                curve=f"fine-tuned on {language_name(target)}",
                baseline=f"zero-shot from {language_name(source)}",
                band=_band_label(findings),
            ),
        )
    return paths


def write_report(config: ReportConfig, report: CrosslingualReport) -> None:
    """``crosslingual.md``, the F1 table (``crosslingual.csv``, means), its summary with
    spreads, the per-seed scores, the learning curve and the figures."""
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return
    report_dir = Path(config.report_dir)
    findings, paths = report.findings, report.paths
    paths["csv"] = report_dir / "crosslingual.csv"
    findings.table.to_csv(paths["csv"], float_format="%.4f")
    paths["summary_csv"] = report_dir / "crosslingual_summary.csv"
    findings.summary.to_csv(paths["summary_csv"], float_format="%.4f")
    paths["scores_csv"] = report_dir / "crosslingual_scores.csv"
    findings.scores.to_csv(paths["scores_csv"], index=False, float_format="%.4f")
    if not findings.curve.empty:
        paths["curve_csv"] = report_dir / "learning_curve.csv"
        findings.curve.to_csv(paths["curve_csv"], index=False, float_format="%.4f")
    paths.update(_plot(config, findings, report_dir))
    images = {key: paths[key].name for key in ("bars", "curve") if key in paths}
    paths["markdown"] = report_dir / "crosslingual.md"
    paths["markdown"].write_text(
        render_markdown(config, findings, images, report.capped_note), encoding="utf-8"
    )
