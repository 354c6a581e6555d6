"""The experiments' figures, drawn headless (Agg) so they work on servers and in tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from swiss_ner.experiments.scores import Estimate  # noqa: E402


def _error_bar_lengths(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Distances below and above each bar (shape 2 x n) for ``yerr``; 0 where unknown."""
    below = np.nan_to_num(values - low, nan=0.0).clip(min=0)
    above = np.nan_to_num(high - values, nan=0.0).clip(min=0)
    return np.vstack([below, above])


def plot_f1_bars(
    table: pd.DataFrame,
    path: str | Path,
    title: str = "",
    low: pd.DataFrame | None = None,
    high: pd.DataFrame | None = None,
    error_label: str = "",
) -> Path:
    """Grouped bars: one group per evaluation language, one bar per strategy (row); with
    ``low``/``high`` (tables shaped like ``table``) each bar gets its interval as error bar."""
    path = Path(path)
    langs = list(table.columns)
    strategies = list(table.index)
    positions = np.arange(len(langs))
    width = 0.8 / max(len(strategies), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(langs) + 0.4 * len(strategies)), 4.0))
    for i, strategy in enumerate(strategies):
        values = table.loc[strategy].astype(float).to_numpy()
        errors = np.zeros((2, len(values)))
        if low is not None and high is not None:
            errors = _error_bar_lengths(values, low.loc[strategy].to_numpy(dtype=float),
                                        high.loc[strategy].to_numpy(dtype=float))
        offsets = positions - 0.4 + width * (i + 0.5)
        bars = ax.bar(offsets, np.nan_to_num(values), width, label=str(strategy), yerr=errors,
                      capsize=2, error_kw={"elinewidth": 0.8})
        for bar, value, above in zip(bars, values, errors[1], strict=True):
            if not np.isnan(value):
                ax.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, value + above),
                            ha="center", va="bottom", fontsize=7)
    ax.set_xticks(positions, langs)
    ax.set_xlabel("evaluation language" + (f" (error bars: {error_label})" if error_label else ""))
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


@dataclass(frozen=True)
class CurveLabels:
    """The words on the learning-curve figure."""

    title: str = ""
    xlabel: str = "French training sentences"
    ylabel: str = "French F1"
    curve: str = "fine-tuned on French"
    baseline: str = "zero-shot from German"
    band: str = ""


def plot_learning_curve(
    curve: pd.DataFrame,
    path: str | Path,
    baseline: Estimate | None = None,
    crossing: float | None = None,
    crossing_spread: tuple[float, float] | None = None,
    labels: CurveLabels | None = None,
) -> Path:
    """F1 against training-set size on a log x axis: the curve (``sentences``, ``f1``) with its
    ``low``-``high`` band, the zero-shot F1 as a horizontal line with its band, and where the
    two cross, with the range of the crossing over seeds."""
    path, labels = Path(path), labels or CurveLabels()
    sizes = curve["sentences"].tolist()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.plot(sizes, curve["f1"], marker="o", label=labels.curve)
    if curve[["low", "high"]].notna().all().all():
        ax.fill_between(sizes, curve["low"], curve["high"], alpha=0.25, label=labels.band or None)
    if baseline is not None:
        ax.axhline(baseline.value, color="tab:red", linestyle="--", label=labels.baseline)
        if not (math.isnan(baseline.low) or math.isnan(baseline.high)):
            ax.axhspan(baseline.low, baseline.high, color="tab:red", alpha=0.12)
    if crossing is not None:
        ax.axvline(crossing, color="grey", linestyle=":", label=f"crossing ≈ {crossing:.0f}")
    if crossing_spread is not None and crossing_spread[0] < crossing_spread[1]:
        ax.axvspan(*crossing_spread, color="grey", alpha=0.12,
                   label=f"crossing over seeds {crossing_spread[0]:.0f}–{crossing_spread[1]:.0f}")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel(labels.xlabel)
    ax.set_ylabel(labels.ylabel)
    ax.set_ylim(0, 1.0)
    ax.set_title(labels.title)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion_matrix(
    matrix: np.ndarray, labels: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """A row-normalised confusion matrix (rows gold, columns predicted) with each cell written."""
    path = Path(path)
    size = max(4.0, 0.7 * len(labels) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0)
    for row in range(matrix.shape[0]):
        for col in range(matrix.shape[1]):
            value = matrix[row, col]
            ax.text(
                col,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value > 0.5 else "black",
            )
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)


def plot_loss_by_label(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Mean per-token loss for each gold label, as horizontal bars."""
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.0, 0.4 * len(table) + 1.5))
    ax.barh([str(label) for label in table.index], table["mean"].to_numpy())
    ax.invert_yaxis()
    ax.set_xlabel("mean cross-entropy loss")
    ax.set_ylabel("gold label")
    ax.set_title(title)
    return _save(fig, path)
