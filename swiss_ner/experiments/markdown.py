"""The cross-lingual report as Markdown: what was run, on which split and how many sentences,
each F1 with its uncertainty, and the short answers (transfer gap, crossing point)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from swiss_ner.config import ReportConfig, TrainConfig
from swiss_ner.constants import LABEL_NAMES, entity_types, language_name
from swiss_ner.experiments.scores import Crossing, Estimate, Findings
from swiss_ner.experiments.tables import markdown_table

BOOK_MODELS: frozenset[str] = frozenset({"xlm-roberta-base", "FacebookAI/xlm-roberta-base"})
BOOK_REFERENCE = pd.DataFrame(
    {
        "de": [0.868, 0.868, 0.868],
        "fr": [0.714, 0.851, 0.865],
        "it": [0.692, 0.819, 0.858],
        "en": [0.589, 0.707, 0.787],
    },
    index=pd.Index(["book: de-only (zero-shot)", "book: each", "book: all"], name="strategy"),
)
BOOK_CROSSING = 750


def interval_kind(seeds: int) -> str:
    """What the ``±`` or brackets beside an F1 mean, for the report's seed count."""
    if seeds > 1:
        return f"mean ± standard deviation over {seeds} seeds (sample std)"
    return "F1 [95% bootstrap confidence interval over sentences], one seed"


def cell_text(row: pd.Series) -> str:
    """One summarised F1 as text: ``mean ± std`` over seeds, or ``F1 [low, high]`` with one."""
    if pd.isna(row["f1"]):
        return ""
    if row["seeds"] > 1:
        return f"{row['f1']:.3f} ± {row['std']:.3f}"
    if pd.isna(row["low"]) or pd.isna(row["high"]):
        return f"{row['f1']:.3f}"
    return f"{row['f1']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"


def cell_table(summary: pd.DataFrame, langs: Sequence[str]) -> pd.DataFrame:
    """The strategy table with every cell as :func:`cell_text` (empty: not evaluated)."""
    cells = summary.apply(cell_text, axis=1).unstack("lang")
    rows = list(dict.fromkeys(summary.index.get_level_values("strategy")))
    table = cells.reindex(index=rows, columns=list(langs)).fillna("")
    table.index.name = "strategy"
    table.columns.name = None
    return table


def describe_crossing(
    curve: pd.DataFrame, baseline: float, crossing: Crossing | None, target_lang: str = "fr"
) -> str:
    """The answer to "how many labelled sentences beat zero-shot transfer?", with the range of
    the answer over seeds."""
    language = language_name(target_lang)
    sizes = curve["sentences"].tolist()
    if crossing is None or crossing.sentences is None:
        if sizes and curve["f1"].iloc[0] >= baseline:
            return (
                f"Already the smallest {language} set ({sizes[0]} sentences) is at or above "
                f"zero-shot transfer; the crossing lies below it."
            )
        largest = sizes[-1] if sizes else 0
        return (f"Within {largest} {language} sentences the curve never reaches zero-shot "
                f"transfer.")
    text = (
        f"Fine-tuning on {language} beats zero-shot transfer from about {crossing.sentences:.0f} "
        f"{language} sentences (mean curve against the mean zero-shot F1, interpolated linearly "
        f"in log(size) between the two neighbouring curve points)."
    )
    seeds = len(crossing.per_seed)
    if seeds < 2:
        return text + " One seed gives no range for it; `--seeds 3` does."
    spread = crossing.spread
    if spread is None:
        return text + f" No single seed's curve crosses its own zero-shot F1 ({seeds} seeds)."
    return text + (
        f" Seed by seed it crosses between {spread[0]:.0f} and {spread[1]:.0f} sentences "
        f"(min–max, {len(crossing.crossed)} of {seeds} seeds cross within the curve)."
    )


def transfer_gap(table: pd.DataFrame, zero_shot_row: str, source_lang: str = "de") -> str | None:
    """How much F1 the source-only model loses on each other language against a model
    fine-tuned on that language: the short answer to "is German-only good enough?"."""
    each = "each (own language)"
    if zero_shot_row not in table.index or each not in table.index:
        return None
    gaps = (table.loc[each] - table.loc[zero_shot_row]).drop(source_lang, errors="ignore")
    gaps = gaps.dropna()
    if gaps.empty:
        return None
    parts = ", ".join(f"{lang} {gap:+.3f}" for lang, gap in gaps.items())
    return (
        f"F1 gained by fine-tuning on the language itself instead of transferring from "
        f"{source_lang} alone (difference of the means): {parts}."
    )


def _setup_lines(config: TrainConfig, seeds: Sequence[int]) -> list[str]:
    data = config.data
    labels = data.label_names or LABEL_NAMES
    return [
        "# Cross-lingual transfer",
        "",
        f"Model `{config.model_name_or_path}`, entity types {', '.join(entity_types(labels))}. "
        f"Same hyper-parameters for every run: {config.num_epochs} epoch(s)"
        + (f", at most {config.max_steps} steps" if config.max_steps else "")
        + f", batch size {config.batching.batch_size}, learning rate "
        f"{config.optimisation.learning_rate}, seed(s) {', '.join(map(str, seeds))}, "
        f"data {data.data_dir or 'google/xtreme (Hub)'}, "
        f"Swiss mix fractions {dict(zip(data.langs, data.fracs, strict=True))}"
        + (
            f", at most {data.max_train_samples} training sentences per run"
            if data.max_train_samples
            else ""
        )
        + ".",
        "",
    ]


def _scoring_lines(scores: pd.DataFrame, seeds: int) -> list[str]:
    """Which split the numbers come from, how many sentences, and what the intervals mean."""
    splits = list(dict.fromkeys(scores["split"]))
    per_lang = scores.groupby("lang", sort=False).agg(
        split=("split", "first"), sentences=("eval_sentences", "max")
    )
    counts = ", ".join(
        f"{lang} {int(row.sentences):,}" + (f" ({row.split})" if len(splits) > 1 else "")
        for lang, row in per_lang.iterrows()
    )
    why = (
        "the data's test split" if splits == ["test"]
        else f"{splits[0]}: the data has no test split" if "test" not in splits
        else "test where the data has one"
    )
    return [
        f"**Scores**: entity-level F1 (seqeval) on the **{' and '.join(splits)}** "
        f"split{'s' if len(splits) > 1 else ''} ({why}); "
        f"sentences scored per language: {counts}. Each cell: {interval_kind(seeds)}.",
        "",
    ]


def _curve_lines(
    curve: pd.DataFrame,
    zero_shot: Estimate | None,
    crossing: Crossing | None,
    names: tuple[str, str],
    capped_note: str | None,
    image: str | None,
) -> list[str]:
    source_lang, target_lang = names
    lines = [f"## Learning curve: fine-tuning on {target_lang} only (our runs)", ""]
    several_seeds = bool((curve["seeds"] > 1).any())
    if zero_shot is not None:
        interval = ""
        if not (math.isnan(zero_shot.low) or math.isnan(zero_shot.high)):
            interval = (
                f" ± {zero_shot.value - zero_shot.low:.3f} (std over seeds)" if several_seeds
                else f" (95% CI {zero_shot.low:.3f}–{zero_shot.high:.3f})"
            )
        lines += [f"Zero-shot {target_lang} F1 of the {source_lang}-only model: "
                  f"**{zero_shot.value:.3f}**{interval}.", ""]
    table = pd.DataFrame({"sentences": curve["sentences"],
                          f"{target_lang} F1": curve.apply(cell_text, axis=1)})
    if several_seeds:
        table["min"], table["max"] = curve["min"], curve["max"]
    lines += [markdown_table(table, index=False), ""]
    if capped_note:
        lines += [capped_note, ""]
    if zero_shot is not None:
        lines += [describe_crossing(curve, zero_shot.value, crossing, target_lang), ""]
    if image:
        lines += [f"![Learning curve]({image})", ""]
    return lines


def _book_lines(config: ReportConfig, splits: Sequence[str]) -> list[str]:
    return [
        "## Reference: the book's figures (not our runs)",
        "",
        "Natural Language Processing with Transformers (Tunstall, von Werra & Wolf), "
        "chapter 4, xlm-roberta-base scored on the PAN-X **test** split (ours: "
        f"`{' and '.join(splits)}`). Quoted for comparison only.",
        "",
        markdown_table(BOOK_REFERENCE),
        "",
        f"Book: the French learning curve crosses zero-shot transfer near "
        f"{BOOK_CROSSING} sentences.",
        "",
    ]


def render_markdown(
    config: ReportConfig,
    findings: Findings,
    images: dict[str, str],
    capped_note: str | None = None,
) -> str:
    """The report: setup, scoring, the strategy table, the learning curve and, for
    xlm-roberta-base, the book's figures."""
    names = findings.names
    lines = _setup_lines(config.training, sorted(set(findings.scores["seed"])))
    lines += _scoring_lines(findings.scores, findings.seeds)
    if not findings.summary.empty:
        lines += [
            "## F1 by training strategy (our runs)",
            "",
            "Rows: what the model was fine-tuned on; columns: the language it was scored on "
            "(empty: not evaluated).",
            "",
            markdown_table(cell_table(findings.summary, names.langs)),
            "",
        ]
        gap = transfer_gap(findings.table, names.zero_shot, names.source_lang)
        if gap:
            lines += [gap, ""]
        if "bars" in images:
            lines += [f"![F1 by strategy]({images['bars']})", ""]
    if not findings.curve.empty:
        lines += _curve_lines(findings.curve, findings.zero_shot, findings.crossing,
                              (names.source_lang, names.target_lang), capped_note,
                              images.get("curve"))
    if config.training.model_name_or_path in BOOK_MODELS:
        lines += _book_lines(config, list(dict.fromkeys(findings.scores["split"])))
    return "\n".join(lines)
