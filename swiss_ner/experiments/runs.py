"""The report's training runs: which runs each strategy needs, one folder per run and seed, and
what an earlier report left there — a finished run is reused, an interrupted one resumed.

Every run is an ordinary ``swiss_ner.training.train`` call with the report's shared options;
only the training and evaluation languages, the number of training sentences and the seed
change. Runs live in ``<report_dir>/runs/<name>/seed-<seed>``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from swiss_ner.checkpoints import (
    CHECKPOINTS_DIR,
    config_fingerprint,
    list_checkpoints,
)
from swiss_ner.config import STRATEGIES, ReportConfig, TrainConfig
from swiss_ner.config.fields import BOOKKEEPING, fields_with_role, with_options
from swiss_ner.constants import LABEL_NAMES
from swiss_ner.results import RESULTS_FILE, RunResults

logger = logging.getLogger(__name__)

TrainFn = Callable[[TrainConfig], RunResults]
# A run's results by sub-run name and seed.
RunTable = dict[tuple[str, int], RunResults]

# Options that change neither the trained weights nor the scores: a cached run is reused
# whatever their values. The run's length and what it is scored on do change its results.
# Read from each option's stated role, in whichever section it sits.
NON_RESULT_FIELDS: frozenset[str] = fields_with_role(TrainConfig, BOOKKEEPING)


@dataclass(frozen=True)
class SubRun:
    """One training run of the report: what it trains on, what it is scored on, its name."""

    name: str
    strategy: str
    train_langs: tuple[str, ...]
    eval_langs: tuple[str, ...]
    max_train_samples: int | None = None

    def folder(self, runs_dir: Path, seed: int) -> Path:
        return runs_dir / self.name / f"seed-{seed}"

    def config(self, base: TrainConfig, runs_dir: Path, seed: int) -> TrainConfig:
        """The base configuration with this run's languages, size, seed and folder (never
        pushed)."""
        return with_options(
            base,
            output_dir=str(self.folder(runs_dir, seed)),
            train_langs=list(self.train_langs),
            eval_langs=list(self.eval_langs),
            max_train_samples=self.max_train_samples,
            seed=seed,
            push_to_hub=False,
            hub_model_id=None,
            resume_from=None,
            overwrite_output_dir=False,
        )


def report_seeds(config: ReportConfig) -> list[int]:
    """The seeds every sub-run is trained with: ``seed``, ``seed + 1``, ... (``seeds`` of them)."""
    return [config.training.seed + offset for offset in range(config.seeds)]


def curve_sizes_capped(sizes: Sequence[int], available: int) -> list[int]:
    """The requested learning-curve sizes, each capped at ``available``, sorted, without repeats."""
    if available < 1:
        raise ValueError("no training sentences available for the learning curve")
    return sorted({min(int(size), available) for size in sizes if int(size) > 0})


def available_train_sentences(config: TrainConfig, lang: str) -> int:
    """Training sentences of ``lang`` in the Swiss mix (and under ``--max-train-samples``)."""
    from swiss_ner.data import load_panx

    data = config.data
    frac = data.fracs[data.langs.index(lang)]
    label_names = data.label_names or LABEL_NAMES
    dataset = load_panx(lang, data.data_dir, label_names=label_names,
                        tag_scheme=data.tag_scheme, tag_column=data.tag_column)
    if "train" not in dataset:
        raise ValueError(f"no train split for {lang!r} in {data.data_dir or 'the Hub data'}")
    available = int(dataset["train"].num_rows * frac)
    if data.max_train_samples is not None:
        available = min(available, data.max_train_samples)
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


def config_matches(saved: TrainConfig, config: TrainConfig) -> bool:
    """Whether a saved run configuration gives the same results as ``config``, compared option
    by option under their command-line names, so a run saved with the flat configuration of
    schema 2 is still the same run; options added since it was saved hold their defaults."""
    return _comparable(saved.flat_dict()) == _comparable(config.flat_dict())


def load_cached_results(config: TrainConfig) -> RunResults | None:
    """The run's ``results.json`` if it exists, is readable and was made with an equivalent
    configuration."""
    path = Path(config.output_dir) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        results = RunResults.load(path)
    except ValueError as error:
        logger.info("%s: unreadable (%s); retraining", path, error)
        return None
    if not config_matches(results.config, config):
        logger.info("%s: results.json was made with another configuration; retraining", path)
        return None
    return results


def resume_or_restart(config: TrainConfig) -> TrainConfig:
    """Resume from the newest checkpoint of this very run (same configuration fingerprint) that
    an interrupted report left behind; otherwise start afresh, clearing any other checkpoints."""
    fingerprint = config_fingerprint(config.flat_dict())
    own = [state for state, _ in list_checkpoints(config.output_dir)
           if state.fingerprint == fingerprint]
    if own:
        logger.info("%s: resuming from step %d", config.output_dir, own[-1].completed_steps)
        return with_options(config, resume_from="latest")
    return with_options(config, resume_from=None, overwrite_output_dir=True)


def free_disk(output_dir: Path, keep_weights: bool) -> None:
    """Checkpoints are only for resuming; the report needs none of them once a run is done."""
    shutil.rmtree(output_dir / CHECKPOINTS_DIR, ignore_errors=True)
    if not keep_weights:
        for weights in [*output_dir.glob("*.safetensors"), *output_dir.glob("*.bin")]:
            weights.unlink(missing_ok=True)


def run_or_reuse(config: TrainConfig, train_fn: TrainFn, keep_weights: bool = True) -> RunResults:
    """Train one sub-run (resuming an interrupted one), or return its cached results when they
    match ``config``."""
    cached = load_cached_results(config)
    if cached is not None:
        logger.info("%s: reusing finished run", config.output_dir)
        return cached
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    results = train_fn(resume_or_restart(config))
    free_disk(Path(config.output_dir), keep_weights)
    return results


def run_all(
    runs: Sequence[SubRun],
    config: ReportConfig,
    runs_dir: Path,
    train_fn: TrainFn,
) -> RunTable:
    """Every sub-run with every seed, trained or reused."""
    base = config.training
    seeds = report_seeds(config)
    results: RunTable = {}
    total = len(runs) * len(seeds)
    for number, (run, seed) in enumerate(((r, s) for r in runs for s in seeds), start=1):
        logger.info("[%d/%d] %s seed %d: train %s, evaluate %s", number, total, run.name, seed,
                    list(run.train_langs), list(run.eval_langs))
        sub_config = run.config(base, runs_dir, seed)
        results[run.name, seed] = run_or_reuse(sub_config, train_fn, config.keep_weights)
    return results
