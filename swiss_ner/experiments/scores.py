"""From run records to the report's numbers: F1 per run, seed and language, its mean and spread
across seeds, the learning curve, and where that curve crosses zero-shot transfer.

A single training run says little about a 0.02 difference, so every number comes with its
uncertainty: with several seeds the mean ± standard deviation across seeds (sample std), with
one seed the 95% bootstrap interval that evaluation stored in ``results.json``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from swiss_ner.experiments.runs import RunTable, SubRun

SCORE_COLUMNS: tuple[str, ...] = (
    "strategy", "run", "seed", "train_sentences", "lang", "f1", "ci_low", "ci_high", "split",
    "eval_sentences",
)


@dataclass(frozen=True)
class RowNames:
    """The table rows of the strategies, named after the report's languages."""

    langs: tuple[str, ...]
    source_lang: str = "de"
    target_lang: str = "fr"

    @property
    def zero_shot(self) -> str:
        return f"zero-shot ({self.source_lang} only)"

    @property
    def each(self) -> str:
        return "each (own language)"

    @property
    def curve(self) -> str:
        return "learning-curve"

    def of(self, run: SubRun) -> str:
        """The row a run's scores belong to."""
        if run.strategy == "zero-shot":
            return self.zero_shot
        if run.strategy == "each":
            return self.each
        if run.strategy == "all" and run.name == "all":
            return "all (" + "+".join(self.langs) + ")"
        if run.strategy == "all":
            return f"{self.source_lang}+{self.target_lang}"
        return self.curve


def score_frame(runs: Sequence[SubRun], results: RunTable, names: RowNames) -> pd.DataFrame:
    """One row per run, seed and evaluation language: F1, its bootstrap interval, and the split
    and number of sentences it was scored on (test where the language has a test split, else
    the evaluation split).

    ``each`` takes its source-language score from the zero-shot run, which is the same training.
    """
    records = []
    by_name = {run.name: run for run in runs}
    for (name, seed), run_results in results.items():
        run = by_name[name]
        for lang in run.eval_langs:
            split, scores = (
                ("test", run_results.test_metrics[lang]) if lang in run_results.test_metrics
                else (run_results.eval_split, run_results.metrics[lang])
            )
            ci = scores.f1_ci
            records.append(
                (names.of(run), name, seed, run.max_train_samples, lang, scores.f1,
                 ci.low if ci else np.nan, ci.high if ci else np.nan, split,
                 scores.num_sentences)
            )
    frame = pd.DataFrame.from_records(records, columns=list(SCORE_COLUMNS))
    own = frame[frame["strategy"] == names.each]
    if not own.empty and names.source_lang not in set(own["lang"]):
        source = frame[(frame["strategy"] == names.zero_shot)
                       & (frame["lang"] == names.source_lang)]
        frame = pd.concat([frame, source.assign(strategy=names.each)], ignore_index=True)
    return frame


def summarise(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Mean F1 per group of ``keys`` with its spread: ``std``, ``min``, ``max`` across seeds, and
    ``low``/``high``, the interval the report shows (mean ± std with several seeds, the 95%
    bootstrap interval with one)."""
    grouped = frame.groupby(list(keys), sort=False)
    summary = grouped.agg(
        f1=("f1", "mean"), std=("f1", "std"), min=("f1", "min"), max=("f1", "max"),
        seeds=("seed", "nunique"), ci_low=("ci_low", "first"), ci_high=("ci_high", "first"),
        split=("split", "first"), eval_sentences=("eval_sentences", "first"),
    )
    one_seed = summary["seeds"] == 1
    summary["low"] = summary["ci_low"].where(one_seed, summary["f1"] - summary["std"])
    summary["high"] = summary["ci_high"].where(one_seed, summary["f1"] + summary["std"])
    return summary


def strategy_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`summarise` per table row and language, learning-curve runs left out."""
    return summarise(frame[frame["strategy"] != "learning-curve"], ["strategy", "lang"])


def pivot(summary: pd.DataFrame, column: str, langs: Sequence[str]) -> pd.DataFrame:
    """One ``column`` of the strategy summary as a table: rows strategy, columns language."""
    table = summary[column].unstack("lang")
    rows = list(dict.fromkeys(summary.index.get_level_values("strategy")))
    table = table.reindex(index=rows, columns=list(langs)).astype(float)
    table.index.name = "strategy"
    table.columns.name = None
    return table


def learning_curve(frame: pd.DataFrame, target_lang: str) -> pd.DataFrame:
    """The target-language F1 of each learning-curve size, summarised across seeds."""
    rows = frame[(frame["strategy"] == "learning-curve") & (frame["lang"] == target_lang)]
    curve = summarise(rows, ["train_sentences"]).reset_index()
    curve = curve.rename(columns={"train_sentences": "sentences"}).sort_values("sentences")
    curve["sentences"] = curve["sentences"].astype(int)
    return curve.reset_index(drop=True)


def crossing_point(sizes: Sequence[int], f1: Sequence[float], baseline: float) -> float | None:
    """Where the curve first rises to ``baseline``, interpolated linearly in log(size).

    ``None`` when it never reaches it or is already at or above it at the smallest size.
    """
    points = list(zip(sizes, f1, strict=True))
    if not points or points[0][1] >= baseline:
        return None
    for (size0, f10), (size1, f11) in zip(points, points[1:], strict=False):
        if f10 < baseline <= f11:
            share = (baseline - f10) / (f11 - f10)
            log_size = math.log(size0) + share * (math.log(size1) - math.log(size0))
            return math.exp(log_size)
    return None


@dataclass
class Crossing:
    """Where fine-tuning on the target language catches up with zero-shot transfer: on the
    mean curve against the mean baseline, and for each seed on its own curve and baseline."""

    sentences: float | None
    per_seed: dict[int, float | None] = field(default_factory=dict)

    @property
    def crossed(self) -> list[float]:
        return [value for value in self.per_seed.values() if value is not None]

    @property
    def spread(self) -> tuple[float, float] | None:
        """The smallest and largest crossing over the seeds whose curve crosses."""
        crossed = self.crossed
        return (min(crossed), max(crossed)) if crossed else None


def find_crossing(frame: pd.DataFrame, names: RowNames) -> Crossing | None:
    """The crossing of the learning curve with the zero-shot F1 on the target language;
    ``None`` without both a curve and a zero-shot run."""
    target = frame[frame["lang"] == names.target_lang]
    curve = target[target["strategy"] == "learning-curve"].pivot_table(
        index="train_sentences", columns="seed", values="f1"
    ).sort_index()
    baseline = target[target["strategy"] == names.zero_shot].groupby("seed")["f1"].mean()
    if curve.empty or baseline.empty:
        return None
    sizes = [int(size) for size in curve.index]
    per_seed = {
        int(seed): crossing_point(sizes, curve[seed].tolist(), float(baseline[seed]))
        for seed in curve.columns
        if seed in baseline.index
    }
    mean = crossing_point(sizes, curve.mean(axis=1).tolist(), float(baseline.mean()))
    return Crossing(mean, per_seed)


@dataclass(frozen=True)
class Estimate:
    """A score with the interval the report shows beside it."""

    value: float
    low: float
    high: float


def estimate(summary: pd.DataFrame, row: str, lang: str) -> Estimate | None:
    """The summarised F1 of one table cell, or ``None`` where it was not measured."""
    if (row, lang) not in summary.index:
        return None
    cell = summary.loc[(row, lang)]
    return Estimate(float(cell["f1"]), float(cell["low"]), float(cell["high"]))


@dataclass
class Findings:
    """Every number of the report, from the per-seed scores up to the crossing point."""

    names: RowNames
    scores: pd.DataFrame
    summary: pd.DataFrame
    curve: pd.DataFrame
    crossing: Crossing | None

    @property
    def table(self) -> pd.DataFrame:
        """Mean F1: rows strategy, columns evaluation language (NaN where not evaluated)."""
        return pivot(self.summary, "f1", self.names.langs)

    @property
    def seeds(self) -> int:
        return int(self.scores["seed"].nunique()) if len(self.scores) else 0

    @property
    def zero_shot(self) -> Estimate | None:
        """The zero-shot F1 on the target language: the learning curve's baseline."""
        return estimate(self.summary, self.names.zero_shot, self.names.target_lang)


def find_all(runs: Sequence[SubRun], results: RunTable, names: RowNames) -> Findings:
    """The report's numbers from the finished runs."""
    frame = score_frame(runs, results, names)
    return Findings(
        names=names,
        scores=frame,
        summary=strategy_summary(frame),
        curve=learning_curve(frame, names.target_lang),
        crossing=find_crossing(frame, names),
    )
