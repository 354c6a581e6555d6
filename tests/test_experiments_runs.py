"""The report's runs: planning, one folder per run and seed, the cache, and resuming a run that
was interrupted for real.

``FakeTrain`` stands in for training where only the bookkeeping is under test (the report tests
import it too); the resume tests train the tiny model and stop it with SIGTERM, as a cluster
scheduler would.
"""

from __future__ import annotations

import copy
import json
import math
import signal
from pathlib import Path

import pytest

from swiss_ner.checkpoints import list_checkpoints
from swiss_ner.config import ReportConfig, TrainConfig, with_options
from swiss_ner.constants import LABEL_NAMES
from swiss_ner.experiments.runs import (
    SubRun,
    config_matches,
    curve_sizes_capped,
    load_cached_results,
    plan_runs,
    report_seeds,
    resume_or_restart,
    run_all,
    run_or_reuse,
)
from swiss_ner.results import DatasetInfo, Interval, LanguageScores, RunResults

ZERO_SHOT_FR = 0.45
SEED_STEP = 0.01


def fake_f1(config: TrainConfig, lang: str) -> float:
    """Made-up scores: the French curve rises 0.1 per doubling from 0.3 at 250 sentences, so it
    crosses the zero-shot French F1 of 0.45 at sqrt(500 * 1000) on a log scale. Each seed above
    42 adds 0.01 to every score."""
    shift = SEED_STEP * (config.seed - 42)
    data = config.data
    if data.train_langs == ["fr"] and data.max_train_samples:
        return 0.3 + 0.1 * math.log2(data.max_train_samples / 250) + shift
    if data.train_langs == ["de"]:
        return {"de": 0.85, "fr": ZERO_SHOT_FR, "it": 0.4, "en": 0.35}[lang] + shift
    return (0.8 if lang in data.train_langs else 0.5) + shift


def fake_scores(f1: float, sentences: int = 200) -> LanguageScores:
    return LanguageScores(
        precision=f1, recall=f1, f1=f1, accuracy=0.9, num_sentences=sentences,
        num_entities=150, f1_ci=Interval(round(f1 - 0.02, 4), round(f1 + 0.03, 4)),
    )


class FakeTrain:
    """Stands in for ``swiss_ner.training.train``: writes what a real run writes, instantly."""

    def __init__(self, with_test: bool = False) -> None:
        self.configs: list[TrainConfig] = []
        self.with_test = with_test

    def __call__(self, config: TrainConfig) -> RunResults:
        self.configs.append(config)
        out = Path(config.output_dir)
        (out / "checkpoints" / "step_1").mkdir(parents=True, exist_ok=True)
        (out / "model.safetensors").write_bytes(b"weights")
        data = config.data
        scores = {lang: fake_scores(fake_f1(config, lang)) for lang in data.eval_langs}
        test = {lang: fake_scores(s.f1 - 0.01, 300) for lang, s in scores.items()}
        results = RunResults(
            config=copy.deepcopy(config), label_names=list(data.label_names or LABEL_NAMES),
            train_langs=data.train_langs, eval_langs=data.eval_langs,
            eval_split="validation", metrics=scores,
            test_metrics=test if self.with_test else {},
            dataset=DatasetInfo("fake", {}, data.max_train_samples or 1000, {}, {}),
            history=[], train_time_s=0.0, train_steps=1, num_processes=1,
            mixed_precision="no", versions={},
        )
        results.save(out / "results.json")
        config.save(out / "train_config.json")
        return results


def test_plan_runs_names_languages_and_sizes():
    runs = plan_runs(["de", "fr", "it", "en"], ["zero-shot", "learning-curve", "each", "all"],
                     [250, 500])
    by_name = {run.name: run for run in runs}
    assert list(by_name) == [
        "zero-shot-de", "curve-fr-250", "curve-fr-500",
        "each-fr", "each-it", "each-en", "de-fr", "all",
    ]
    assert by_name["zero-shot-de"].train_langs == ("de",)
    assert by_name["zero-shot-de"].eval_langs == ("de", "fr", "it", "en")
    assert by_name["curve-fr-500"].max_train_samples == 500
    assert by_name["curve-fr-500"].eval_langs == ("fr",)
    assert [run.name for run in plan_runs(["de", "fr"], ["each"])] == ["each-de", "each-fr"]
    assert by_name["each-it"].train_langs == by_name["each-it"].eval_langs == ("it",)
    assert by_name["de-fr"].train_langs == ("de", "fr")
    assert by_name["all"].train_langs == ("de", "fr", "it", "en")


def test_learning_curve_brings_its_zero_shot_baseline():
    names = [run.name for run in plan_runs(["de", "fr"], ["learning-curve"], [100])]
    assert names == ["zero-shot-de", "curve-fr-100"]


def test_plan_runs_rejects_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategies"):
        plan_runs(["de", "fr"], ["few-shot"])


def test_curve_sizes_are_capped_at_what_exists():
    assert curve_sizes_capped([250, 500, 1000, 2000, 4000], 4580) == [250, 500, 1000, 2000, 4000]
    assert curve_sizes_capped([250, 500, 1000, 2000, 4000], 700) == [250, 500, 700]


def test_each_seed_gets_its_own_folder_and_seed(tmp_path):
    training = TrainConfig.from_flat({"model_name_or_path": "tiny-model", "seed": 7,
                                      "report_to": "none", "push_to_hub": True,
                                      "hub_model_id": "org/name"})
    config = ReportConfig(training=training, seeds=3)
    assert report_seeds(config) == [7, 8, 9]
    run = SubRun("curve-fr-100", "learning-curve", ("fr",), ("fr",), 100)
    sub = run.config(config.training, tmp_path, 8)
    assert Path(sub.output_dir) == tmp_path / "curve-fr-100" / "seed-8"
    assert (sub.seed, sub.data.train_langs, sub.data.max_train_samples) == (8, ["fr"], 100)
    assert not sub.hub.push_to_hub and sub.checkpoints.resume_from is None
    assert config.training.hub.push_to_hub and config.training.seed == 7, "the base is unchanged"

    fake = FakeTrain()
    config = with_options(config, seed=42, push_to_hub=False, hub_model_id=None)
    each = SubRun("each-fr", "each", ("fr",), ("fr",))
    results = run_all([each], config, tmp_path, fake)
    assert sorted(results) == [("each-fr", 42), ("each-fr", 43), ("each-fr", 44)]
    assert [c.seed for c in fake.configs] == [42, 43, 44]
    assert results["each-fr", 44].metrics["fr"].f1 == pytest.approx(0.8 + 2 * SEED_STEP)
    run_all([each], config, tmp_path, fake)
    assert len(fake.configs) == 3, "finished seeds are reused"


def test_cache_reuses_equal_runs_and_retrains_changed_ones(tmp_path):
    config = TrainConfig.from_flat({"model_name_or_path": "tiny-model",
                                    "output_dir": str(tmp_path / "run"), "report_to": "none"})
    fake = FakeTrain()
    first = run_or_reuse(config, fake)
    assert not (tmp_path / "run" / "checkpoints").exists(), "checkpoints are freed"
    assert (tmp_path / "run" / "model.safetensors").exists()
    assert run_or_reuse(with_options(config, eval_batch_size=8), fake) == first
    assert len(fake.configs) == 1
    assert load_cached_results(with_options(config, learning_rate=1e-4)) is None
    run_or_reuse(with_options(config, learning_rate=1e-4), fake, keep_weights=False)
    assert len(fake.configs) == 2
    assert not (tmp_path / "run" / "model.safetensors").exists()
    (tmp_path / "run" / "results.json").write_text("{not json")
    assert load_cached_results(config) is None


def test_options_added_later_count_with_their_defaults():
    flat = TrainConfig().flat_dict()
    del flat["consistency_weight"]
    nested = TrainConfig().to_dict()
    del nested["optimisation"]["consistency_weight"]
    for saved in (TrainConfig.from_flat(flat), TrainConfig.from_dict(nested)):
        assert config_matches(saved, TrainConfig())
        assert not config_matches(saved, with_options(TrainConfig(), consistency_weight=0.0))
        assert not config_matches(saved, with_options(TrainConfig(), max_steps=5)), "the length"
        assert config_matches(saved, with_options(TrainConfig(), output_dir="x", log_every=1))


def test_a_run_cached_with_the_flat_schema_2_record_is_the_same_run(tmp_path):
    config = TrainConfig.from_flat({"model_name_or_path": "tiny-model", "learning_rate": 1e-4,
                                    "output_dir": str(tmp_path / "run"), "report_to": "none"})
    fake = FakeTrain()
    results = run_or_reuse(config, fake)
    record = results.to_dict()
    assert record["schema_version"] == 3 and record["config"]["optimisation"]["learning_rate"]
    record.update(schema_version=2, config=results.config.flat_dict())  # as schema 2 wrote it
    (tmp_path / "run" / "results.json").write_text(json.dumps(record))
    cached = load_cached_results(config)
    assert cached == results, "read into today's nested record"
    assert run_or_reuse(with_options(config, eval_batch_size=8), fake) == results
    assert len(fake.configs) == 1, "recognised as the run already done"
    assert load_cached_results(with_options(config, learning_rate=1e-3)) is None


@pytest.fixture
def tiny_run_config(train_config_factory, tmp_path) -> TrainConfig:
    """Four optimizer steps of the tiny model on German, scored on a few sentences."""
    return train_config_factory(
        output_dir=str(tmp_path / "runs" / "zero-shot-de" / "seed-42"), langs=["de"],
        fracs=[0.629], eval_langs=["de"], max_train_samples=64, max_eval_samples=16,
        num_epochs=1, max_steps=4,
    )


def interrupt_after(monkeypatch, steps: int) -> list[int]:
    """Let the real training loop run ``steps`` optimizer steps, then send it SIGTERM (the loop
    saves a checkpoint and stops, as under a cluster scheduler); returns the call counter."""
    from swiss_ner.training import loop as training_loop

    calls: list[int] = []
    real_step = training_loop.train_step

    def step(loop, batch):
        calls.append(len(calls) + 1)
        if len(calls) == steps:
            signal.raise_signal(signal.SIGTERM)
        return real_step(loop, batch)

    monkeypatch.setattr(training_loop, "train_step", step)
    return calls


def counted_steps(monkeypatch) -> list[int]:
    from swiss_ner.training import loop as training_loop

    calls: list[int] = []
    real_step = training_loop.train_step

    def step(loop, batch):
        calls.append(len(calls) + 1)
        return real_step(loop, batch)

    monkeypatch.setattr(training_loop, "train_step", step)
    return calls


def test_interrupted_run_resumes_from_its_checkpoint(tiny_run_config, monkeypatch):
    from swiss_ner import training

    folder = Path(tiny_run_config.output_dir)
    interrupt_after(monkeypatch, 2)
    with pytest.raises(training.TrainingError, match="stopped by signal SIGTERM"):
        run_or_reuse(tiny_run_config, training.train)
    assert [state.completed_steps for state, _ in list_checkpoints(folder)] == [2]
    assert not (folder / "results.json").exists()
    assert resume_or_restart(tiny_run_config).checkpoints.resume_from == "latest"

    calls = counted_steps(monkeypatch)
    results = run_or_reuse(tiny_run_config, training.train)
    assert calls == [1, 2], "only the two steps after the checkpoint are trained"
    assert results.train_steps == 4
    assert results.config.checkpoints.resume_from == "latest"
    assert not (folder / "checkpoints").exists()
    assert load_cached_results(tiny_run_config) is not None


def test_checkpoint_of_another_configuration_is_not_resumed(tiny_run_config, monkeypatch):
    from swiss_ner import training

    folder = Path(tiny_run_config.output_dir)
    interrupt_after(monkeypatch, 1)
    with pytest.raises(training.TrainingError, match="stopped by signal"):
        run_or_reuse(tiny_run_config, training.train)
    changed = with_options(tiny_run_config, learning_rate=1e-3)
    restart = resume_or_restart(changed).checkpoints
    assert restart.resume_from is None and restart.overwrite_output_dir

    calls = counted_steps(monkeypatch)
    results = run_or_reuse(changed, training.train)
    assert calls == [1, 2, 3, 4], "a fresh start trains every step"
    assert results.config.optimisation.learning_rate == 1e-3
    assert not (folder / "checkpoints").exists()
