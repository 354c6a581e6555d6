"""Cross-lingual transfer: is a German-only model good enough for fr/it/en, and how many
labelled French sentences beat zero-shot transfer?

Every strategy is a handful of ordinary training runs (``swiss_ner.training.train``) with one
model and one set of hyper-parameters; only the training and evaluation languages (and, for the
learning curve, the number of training sentences) change. Each run lives in its own folder under
the report folder, and a run whose ``results.json`` was written with the same configuration is
reused, so an interrupted report resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from swiss_ner.config import TrainConfig, build_parser
from swiss_ner.experiments.plots import plot_f1_bars, plot_learning_curve
from swiss_ner.experiments.tables import markdown_table

logger = logging.getLogger(__name__)

STRATEGIES: tuple[str, ...] = ("zero-shot", "learning-curve", "each", "all")
CURVE_SIZES: tuple[int, ...] = (250, 500, 1000, 2000, 4000)

# Fields that do not change a run's results: a cached run is reused whatever their values.
NON_RESULT_FIELDS: frozenset[str] = frozenset(
    {
        "output_dir",
        "resume_from",
        "checkpointing_steps",
        "report_to",
        "num_workers",
        "push_to_hub",
        "hub_model_id",
        "hub_private",
        "eval_batch_size",
    }
)

LANGUAGE_NAMES: dict[str, str] = {"de": "German", "fr": "French", "it": "Italian", "en": "English"}

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

TrainFn = Callable[[TrainConfig], dict]


@dataclass(frozen=True)
class SubRun:
    """One training run of the report: what it trains on, what it is scored on, and where."""

    name: str
    strategy: str
    train_langs: tuple[str, ...]
    eval_langs: tuple[str, ...]
    max_train_samples: int | None = None

    def config(self, base: TrainConfig, runs_dir: Path) -> TrainConfig:
        """The base configuration with this run's languages, size and folder (never pushed)."""
        return dataclasses.replace(
            base,
            output_dir=str(runs_dir / self.name),
            train_langs=list(self.train_langs),
            eval_langs=list(self.eval_langs),
            max_train_samples=self.max_train_samples,
            push_to_hub=False,
            hub_model_id=None,
            resume_from=None,
        )


@dataclass
class CrosslingualReport:
    """What :func:`run_crosslingual` found and wrote."""

    table: pd.DataFrame
    curve: pd.DataFrame
    zero_shot_f1: float | None
    crossing: float | None
    results: dict[str, dict] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)


def curve_sizes_capped(sizes: Sequence[int], available: int) -> list[int]:
    """The requested learning-curve sizes, each capped at ``available``, sorted, without repeats."""
    if available < 1:
        raise ValueError("no training sentences available for the learning curve")
    return sorted({min(int(size), available) for size in sizes if int(size) > 0})


def available_train_sentences(config: TrainConfig, lang: str) -> int:
    """Training sentences of ``lang`` in the Swiss mix (and under ``--max-train-samples``)."""
    from swiss_ner.data import load_panx

    frac = config.fracs[config.langs.index(lang)]
    available = int(load_panx(lang, config.data_dir)["train"].num_rows * frac)
    if config.max_train_samples is not None:
        available = min(available, config.max_train_samples)
    return available


def plan_runs(
    langs: Sequence[str],
    strategies: Sequence[str],
    curve_sizes: Sequence[int] = (),
    source_lang: str = "de",
    target_lang: str = "fr",
    max_train_samples: int | None = None,
) -> list[SubRun]:
    """The training runs the chosen strategies need, each once.

    The learning curve needs the zero-shot run as its baseline, so it brings it along; when
    the zero-shot run is planned, ``each`` takes its ``source_lang`` score from it (same training).
    ``all`` also trains on ``source_lang + target_lang`` (German+French).
    """
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
    for lang in (source_lang, target_lang):
        if lang not in langs:
            raise ValueError(f"language {lang!r} is not in --langs {list(langs)}")
    langs = tuple(langs)
    runs: list[SubRun] = []
    if "zero-shot" in strategies or "learning-curve" in strategies:
        name = f"zero-shot-{source_lang}"
        runs.append(SubRun(name, "zero-shot", (source_lang,), langs, max_train_samples))
    if "learning-curve" in strategies:
        for size in curve_sizes:
            runs.append(
                SubRun(f"curve-{target_lang}-{size}", "learning-curve", (target_lang,),
                       (target_lang,), size)
            )
    if "each" in strategies:
        zero_shot_planned = bool(runs) and runs[0].strategy == "zero-shot"
        for lang in langs:
            if lang == source_lang and zero_shot_planned:
                continue
            runs.append(SubRun(f"each-{lang}", "each", (lang,), (lang,), max_train_samples))
    if "all" in strategies:
        pair = (source_lang, target_lang)
        runs.append(SubRun(f"{source_lang}-{target_lang}", "all", pair, langs, max_train_samples))
        runs.append(SubRun("all", "all", langs, langs, max_train_samples))
    return runs


def _comparable(values: dict) -> dict:
    normalised = json.loads(json.dumps(values))
    return {k: v for k, v in normalised.items() if k not in NON_RESULT_FIELDS}


def config_matches(saved: dict, config: TrainConfig) -> bool:
    """Whether a saved run configuration gives the same results as ``config``."""
    wanted = _comparable(config.to_dict())
    # Options added after a run was saved count with their default value.
    have = {**_comparable(TrainConfig().to_dict()), **_comparable(saved)}
    return all(key in have and have[key] == value for key, value in wanted.items())


def load_cached_results(config: TrainConfig) -> dict | None:
    """The run's ``results.json`` if it exists and was made with an equivalent configuration."""
    path = Path(config.output_dir) / "results.json"
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if not config_matches(results.get("config", {}), config):
        logger.info("%s: results.json was made with another configuration; retraining", path)
        return None
    return results


def _prepare_resume(config: TrainConfig) -> TrainConfig:
    """Resume an interrupted run from its newest checkpoint when its configuration matches;
    drop checkpoints of another configuration so they cannot be picked up."""
    out = Path(config.output_dir)
    checkpoints = out / "checkpoints"
    if not checkpoints.is_dir() or not any(checkpoints.iterdir()):
        return config
    saved = out / "train_config.json"
    if saved.is_file() and config_matches(json.loads(saved.read_text()), config):
        logger.info("%s: resuming from the latest checkpoint", out)
        return dataclasses.replace(config, resume_from="latest")
    shutil.rmtree(checkpoints)
    return config


def _free_disk(output_dir: Path, keep_weights: bool) -> None:
    """Checkpoints are only for resuming; the report needs none of them once a run is done."""
    shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    if not keep_weights:
        for weights in [*output_dir.glob("*.safetensors"), *output_dir.glob("*.bin")]:
            weights.unlink()


def run_or_reuse(config: TrainConfig, train_fn: TrainFn, keep_weights: bool = True) -> dict:
    """Train one sub-run, or return its cached results when they match ``config``."""
    cached = load_cached_results(config)
    if cached is not None:
        logger.info("%s: reusing finished run", config.output_dir)
        return cached
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    results = train_fn(_prepare_resume(config))
    results_path = Path(config.output_dir) / "results.json"
    if not results and results_path.is_file():
        results = json.loads(results_path.read_text())
    _free_disk(Path(config.output_dir), keep_weights)
    return results


def f1_of(results: dict, lang: str) -> float:
    return float(results["metrics"][lang]["f1"])


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


def describe_crossing(
    sizes: Sequence[int],
    f1: Sequence[float],
    baseline: float,
    crossing: float | None,
    target_lang: str = "fr",
) -> str:
    """One sentence that answers "how many labelled sentences beat zero-shot transfer?"."""
    language = LANGUAGE_NAMES.get(target_lang, target_lang)
    if crossing is not None:
        return (
            f"Fine-tuning on {language} beats zero-shot transfer from about {crossing:.0f} "
            f"{language} sentences (F1 interpolated linearly in log(size) between the two "
            f"neighbouring curve points)."
        )
    if sizes and f1[0] >= baseline:
        return (
            f"Already the smallest {language} set ({sizes[0]} sentences) is at or above zero-shot "
            f"transfer; the crossing lies below it."
        )
    largest = sizes[-1] if sizes else 0
    return f"Within {largest} {language} sentences the curve never reaches zero-shot transfer."


def build_table(
    runs: Sequence[SubRun],
    results: dict[str, dict],
    langs: Sequence[str],
    source_lang: str = "de",
    target_lang: str = "fr",
) -> pd.DataFrame:
    """Rows: strategy; columns: evaluation language; F1 (NaN where not evaluated)."""
    rows: dict[str, dict[str, float]] = {}
    for run in runs:
        run_results = results[run.name]
        if run.strategy == "zero-shot":
            row = f"zero-shot ({source_lang} only)"
        elif run.strategy == "each":
            row = "each (own language)"
        elif run.strategy == "all" and run.name == "all":
            row = "all (" + "+".join(langs) + ")"
        elif run.strategy == "all":
            row = f"{source_lang}+{target_lang}"
        else:
            continue
        cells = rows.setdefault(row, {})
        for lang in run.eval_langs:
            cells[lang] = f1_of(run_results, lang)
    each_row = rows.get("each (own language)")
    zero_shot_row = rows.get(f"zero-shot ({source_lang} only)")
    if each_row is not None and zero_shot_row is not None and source_lang not in each_row:
        each_row[source_lang] = zero_shot_row[source_lang]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(langs))
    table.index.name = "strategy"
    return table.astype(float)


def build_curve(
    runs: Sequence[SubRun], results: dict[str, dict], target_lang: str = "fr"
) -> pd.DataFrame:
    """One row per learning-curve run: sentences trained on and the target-language F1."""
    records = [
        {
            "sentences": run.max_train_samples,
            f"{target_lang}_f1": f1_of(results[run.name], target_lang),
        }
        for run in runs
        if run.strategy == "learning-curve"
    ]
    return pd.DataFrame(records, columns=["sentences", f"{target_lang}_f1"])


def transfer_gap(table: pd.DataFrame, source_lang: str = "de") -> str | None:
    """How much F1 the source-only model loses on each other language against a model
    fine-tuned on that language: the short answer to "is German-only good enough?"."""
    zero_shot = f"zero-shot ({source_lang} only)"
    each = "each (own language)"
    if zero_shot not in table.index or each not in table.index:
        return None
    gaps = (table.loc[each] - table.loc[zero_shot]).drop(source_lang, errors="ignore").dropna()
    if gaps.empty:
        return None
    parts = ", ".join(f"{lang} {gap:+.3f}" for lang, gap in gaps.items())
    return (
        f"F1 gained by fine-tuning on the language itself instead of transferring from "
        f"{source_lang} alone: {parts}."
    )


def render_markdown(
    config: TrainConfig,
    table: pd.DataFrame,
    curve: pd.DataFrame,
    zero_shot_f1: float | None,
    crossing_text: str | None,
    capped_note: str | None,
    images: dict[str, str],
    source_lang: str = "de",
    target_lang: str = "fr",
) -> str:
    """The report: the strategy table, the learning curve and, for xlm-roberta-base, the book's."""
    lines = [
        "# Cross-lingual transfer",
        "",
        f"Model `{config.model_name_or_path}`, F1 on the `{config.eval_split}` split of each "
        f"language (entity-level, seqeval). Same hyper-parameters for every run: "
        f"{config.num_epochs} epoch(s)"
        + (f", at most {config.max_steps} steps" if config.max_steps else "")
        + f", batch size {config.batch_size}, learning rate {config.learning_rate}, "
        f"seed {config.seed}, data {config.data_dir or 'google/xtreme (Hub)'}, "
        f"Swiss mix fractions {dict(zip(config.langs, config.fracs, strict=True))}"
        + (
            f", at most {config.max_train_samples} training sentences per run"
            if config.max_train_samples
            else ""
        )
        + ".",
        "",
    ]
    if not table.empty:
        lines += [
            "## F1 by training strategy (our runs)",
            "",
            "Rows: what the model was fine-tuned on; columns: the language it was scored on "
            "(empty: not evaluated).",
            "",
            markdown_table(table),
            "",
        ]
        gap = transfer_gap(table, source_lang)
        if gap:
            lines += [gap, ""]
        if "bars" in images:
            lines += [f"![F1 by strategy]({images['bars']})", ""]
    if not curve.empty:
        lines += [f"## Learning curve: fine-tuning on {target_lang} only (our runs)", ""]
        if zero_shot_f1 is not None:
            lines += [
                f"Zero-shot {target_lang} F1 of the {source_lang}-only model: "
                f"**{zero_shot_f1:.3f}**.",
                "",
            ]
        lines += [markdown_table(curve.set_index("sentences")), ""]
        if capped_note:
            lines += [capped_note, ""]
        if crossing_text:
            lines += [crossing_text, ""]
        if "curve" in images:
            lines += [f"![Learning curve]({images['curve']})", ""]
    if config.model_name_or_path in BOOK_MODELS:
        lines += [
            "## Reference: the book's figures (not our runs)",
            "",
            "Natural Language Processing with Transformers (Tunstall, von Werra & Wolf), "
            "chapter 4, xlm-roberta-base scored on the PAN-X **test** split (ours: "
            f"`{config.eval_split}`). Quoted for comparison only.",
            "",
            markdown_table(BOOK_REFERENCE),
            "",
            f"Book: the French learning curve crosses zero-shot transfer near "
            f"{BOOK_CROSSING} sentences.",
            "",
        ]
    return "\n".join(lines)


def run_crosslingual(
    config: TrainConfig,
    report_dir: str | Path,
    strategies: Sequence[str] = STRATEGIES,
    curve_sizes: Sequence[int] = CURVE_SIZES,
    source_lang: str = "de",
    target_lang: str = "fr",
    keep_weights: bool = True,
    train_fn: TrainFn | None = None,
) -> CrosslingualReport:
    """Run (or reuse) every sub-run of the chosen strategies and write the report files:
    ``crosslingual.md``, ``crosslingual.csv``, ``crosslingual.png``, and with the learning
    curve ``learning_curve.csv`` and ``learning_curve.png``."""
    if train_fn is None:
        from swiss_ner import training

        def train_fn(sub_config: TrainConfig) -> dict:
            return training.train(sub_config)

    config.validate()
    report_dir = Path(report_dir)
    runs_dir = report_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)

    capped_note = None
    sizes: list[int] = []
    if "learning-curve" in strategies:
        available = available_train_sentences(config, target_lang)
        sizes = curve_sizes_capped(curve_sizes, available)
        dropped = sorted(s for s in curve_sizes if s > available)
        if dropped:
            capped_note = (
                f"Sizes {dropped} exceed the {available} {target_lang} training sentences "
                f"available and were capped at {available}."
            )

    runs = plan_runs(
        config.langs, strategies, sizes, source_lang, target_lang, config.max_train_samples
    )
    results: dict[str, dict] = {}
    for number, run in enumerate(runs, start=1):
        logger.info("[%d/%d] %s: train %s, evaluate %s", number, len(runs), run.name,
                    list(run.train_langs), list(run.eval_langs))
        results[run.name] = run_or_reuse(run.config(config, runs_dir), train_fn, keep_weights)

    table = build_table(runs, results, config.langs, source_lang, target_lang)
    curve = build_curve(runs, results, target_lang)
    zero_shot_name = f"zero-shot-{source_lang}"
    zero_shot_f1 = (
        f1_of(results[zero_shot_name], target_lang) if zero_shot_name in results else None
    )
    crossing = None
    crossing_text = None
    if not curve.empty and zero_shot_f1 is not None:
        curve_sizes_done = curve["sentences"].tolist()
        curve_f1 = curve[f"{target_lang}_f1"].tolist()
        crossing = crossing_point(curve_sizes_done, curve_f1, zero_shot_f1)
        crossing_text = describe_crossing(
            curve_sizes_done, curve_f1, zero_shot_f1, crossing, target_lang
        )

    paths: dict[str, Path] = {}
    images: dict[str, str] = {}
    paths["csv"] = report_dir / "crosslingual.csv"
    table.to_csv(paths["csv"], float_format="%.3f")
    if not table.empty:
        paths["bars"] = plot_f1_bars(
            table, report_dir / "crosslingual.png",
            title=f"Cross-lingual transfer, {config.model_name_or_path}",
        )
        images["bars"] = paths["bars"].name
    if not curve.empty:
        paths["curve_csv"] = report_dir / "learning_curve.csv"
        curve.to_csv(paths["curve_csv"], index=False, float_format="%.3f")
        paths["curve"] = plot_learning_curve(
            curve["sentences"].tolist(),
            curve[f"{target_lang}_f1"].tolist(),
            report_dir / "learning_curve.png",
            baseline=zero_shot_f1,
            baseline_label=f"zero-shot from {LANGUAGE_NAMES.get(source_lang, source_lang)}",
            curve_label=f"fine-tuned on {LANGUAGE_NAMES.get(target_lang, target_lang)}",
            crossing=crossing,
            title=f"{target_lang} learning curve, {config.model_name_or_path}",
            xlabel=f"{target_lang} training sentences (log scale)",
            ylabel=f"{target_lang} F1",
        )
        images["curve"] = paths["curve"].name
    paths["markdown"] = report_dir / "crosslingual.md"
    paths["markdown"].write_text(
        render_markdown(config, table, curve, zero_shot_f1, crossing_text, capped_note,
                        images, source_lang, target_lang)
    )
    return CrosslingualReport(table, curve, zero_shot_f1, crossing, results, paths)


def build_arg_parser() -> argparse.ArgumentParser:
    """Every :class:`TrainConfig` option plus the report's own."""
    parser = build_parser(
        TrainConfig,
        description="Cross-lingual transfer report: zero-shot from German, a French learning "
        "curve, one model per language, and all languages together. Each run gets a folder "
        "under --report-dir/runs.",
    )
    # Runs get their folders from --report-dir, so the training option is hidden here.
    for action in parser._actions:
        if "--output-dir" in action.option_strings:
            action.help = argparse.SUPPRESS
    parser.add_argument("--report-dir", default="reports/crosslingual",
                        help="Folder for the report files and the runs (runs/<name>).")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES),
                        choices=list(STRATEGIES), help="Strategies to run.")
    parser.add_argument("--curve-sizes", nargs="+", type=int, default=list(CURVE_SIZES),
                        help="French training-set sizes of the learning curve (capped at what "
                        "exists).")
    parser.add_argument("--source-lang", default="de",
                        help="The language of the zero-shot model.")
    parser.add_argument("--target-lang", default="fr",
                        help="The language of the learning curve.")
    parser.add_argument("--keep-weights", default=True, action=argparse.BooleanOptionalAction,
                        help="Keep each run's final model weights (checkpoints are always "
                        "deleted after a run).")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """Split the command line into the shared :class:`TrainConfig` and the report options."""
    namespace = build_arg_parser().parse_args(argv)
    config_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = vars(namespace)
    config = TrainConfig(**{k: v for k, v in values.items() if k in config_fields})
    config.validate()
    options = argparse.Namespace(**{k: v for k, v in values.items() if k not in config_fields})
    return config, options


def main(argv: Sequence[str] | None = None) -> CrosslingualReport:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config, options = parse_args(argv)
    report = run_crosslingual(
        config,
        options.report_dir,
        strategies=options.strategies,
        curve_sizes=options.curve_sizes,
        source_lang=options.source_lang,
        target_lang=options.target_lang,
        keep_weights=options.keep_weights,
    )
    if not report.table.empty:
        print(markdown_table(report.table))
    if not report.curve.empty:
        print(markdown_table(report.curve.set_index("sentences")))
    print(f"Report written to {report.paths['markdown']}")
    return report
