"""The experiments' figures, drawn headless (Agg) so they work on servers and in tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_f1_bars(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Grouped bars: one group per evaluation language, one bar per strategy (row)."""
    path = Path(path)
    langs = list(table.columns)
    strategies = list(table.index)
    positions = np.arange(len(langs))
    width = 0.8 / max(len(strategies), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(langs) + 0.4 * len(strategies)), 4.0))
    for i, strategy in enumerate(strategies):
        values = table.loc[strategy].astype(float).to_numpy()
        offsets = positions - 0.4 + width * (i + 0.5)
        bars = ax.bar(offsets, np.nan_to_num(values), width, label=str(strategy))
        for bar, value in zip(bars, values, strict=True):
            if not np.isnan(value):
                ax.annotate(
                    f"{value:.2f}",
                    (bar.get_x() + bar.get_width() / 2, value),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
    ax.set_xticks(positions, langs)
    ax.set_xlabel("evaluation language")
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_learning_curve(
    sizes: Sequence[int],
    f1: Sequence[float],
    path: str | Path,
    baseline: float | None = None,
    baseline_label: str = "zero-shot from German",
    curve_label: str = "fine-tuned on French",
    crossing: float | None = None,
    title: str = "",
    xlabel: str = "French training sentences",
    ylabel: str = "French F1",
) -> Path:
    """F1 against training-set size on a log x axis, the zero-shot F1 as a horizontal line."""
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.plot(sizes, f1, marker="o", label=curve_label)
    if baseline is not None:
        ax.axhline(baseline, color="tab:red", linestyle="--", label=baseline_label)
    if crossing is not None:
        ax.axvline(crossing, color="grey", linestyle=":", label=f"crossing ≈ {crossing:.0f}")
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.0)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_loss_by_label(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Mean per-token loss for each gold label, as horizontal bars."""
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.0, 0.4 * len(table) + 1.5))
    ax.barh([str(label) for label in table.index], table["mean"].to_numpy())
    ax.invert_yaxis()
    ax.set_xlabel("mean cross-entropy loss")
    ax.set_ylabel("gold label")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
