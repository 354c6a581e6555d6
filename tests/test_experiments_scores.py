"""The report's numbers: per-seed scores, mean ± std across seeds, bootstrap intervals with one
seed, the learning curve and its crossing with zero-shot transfer, seed by seed."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_experiments_runs import ZERO_SHOT_FR, FakeTrain

from swiss_ner.config import TrainConfig
from swiss_ner.experiments.runs import plan_runs
from swiss_ner.experiments.scores import (
    RowNames,
    crossing_point,
    find_all,
    find_crossing,
    score_frame,
)

NAMES = RowNames(("de", "fr", "it", "en"))


def fake_results(strategies: list[str], seeds: list[int], sizes=(250, 500, 1000, 2000, 4000)):
    """Every planned run with every seed, scored by :class:`FakeTrain` (nothing is written but
    its folder)."""
    runs = plan_runs(NAMES.langs, strategies, list(sizes))
    fake = FakeTrain()
    results = {}
    for run in runs:
        for seed in seeds:
            config = TrainConfig.from_flat({
                "train_langs": list(run.train_langs), "eval_langs": list(run.eval_langs),
                "max_train_samples": run.max_train_samples, "seed": seed,
            })
            results[run.name, seed] = fake(config)
    return runs, results


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """FakeTrain writes into the default output folder; keep it in the test's folder."""
    monkeypatch.chdir(tmp_path)


def test_crossing_point_interpolates_on_log_size():
    assert crossing_point([250, 500, 1000], [0.3, 0.4, 0.5], 0.45) == pytest.approx(
        math.sqrt(500 * 1000)
    )
    assert crossing_point([250, 500], [0.3, 0.4], 0.45) is None
    assert crossing_point([250, 500], [0.5, 0.6], 0.45) is None


def test_score_frame_has_one_row_per_run_seed_and_language():
    runs, results = fake_results(["zero-shot", "each"], [42, 43])
    frame = score_frame(runs, results, NAMES)
    zero_shot = frame[frame["strategy"] == NAMES.zero_shot]
    assert len(zero_shot) == 2 * 4
    assert set(frame["split"]) == {"validation"} and set(frame["eval_sentences"]) == {200}
    each_de = frame[(frame["strategy"] == NAMES.each) & (frame["lang"] == "de")]
    assert each_de["run"].tolist() == ["zero-shot-de", "zero-shot-de"], "borrowed from zero-shot"
    first = zero_shot[(zero_shot["seed"] == 42) & (zero_shot["lang"] == "fr")].iloc[0]
    assert (first["f1"], first["ci_low"], first["ci_high"]) == pytest.approx((0.45, 0.43, 0.48))


def test_several_seeds_give_mean_and_sample_std():
    runs, results = fake_results(["zero-shot"], [42, 43, 44])
    findings = find_all(runs, results, NAMES)
    cell = findings.summary.loc[(NAMES.zero_shot, "fr")]
    assert cell["f1"] == pytest.approx(ZERO_SHOT_FR + 0.01)
    assert cell["std"] == pytest.approx(0.01)
    assert (cell["min"], cell["max"], cell["seeds"]) == pytest.approx((0.45, 0.47, 3))
    assert (cell["low"], cell["high"]) == pytest.approx((0.45, 0.47)), "mean ± std"
    assert findings.table.loc[NAMES.zero_shot, "de"] == pytest.approx(0.86)
    assert findings.seeds == 3


def test_one_seed_shows_the_bootstrap_interval():
    runs, results = fake_results(["zero-shot"], [42])
    findings = find_all(runs, results, NAMES)
    cell = findings.summary.loc[(NAMES.zero_shot, "fr")]
    assert pd.isna(cell["std"])
    assert (cell["low"], cell["high"]) == pytest.approx((0.43, 0.48))
    assert findings.zero_shot.value == pytest.approx(ZERO_SHOT_FR)


def test_learning_curve_and_crossing_per_seed():
    runs, results = fake_results(["learning-curve"], [42, 43])
    findings = find_all(runs, results, NAMES)
    curve = findings.curve
    assert curve["sentences"].tolist() == [250, 500, 1000, 2000, 4000]
    assert curve["f1"].iloc[0] == pytest.approx(0.305)
    assert (curve["low"] < curve["f1"]).all() and (curve["f1"] < curve["high"]).all()
    crossing = findings.crossing
    # Seed 43 shifts curve and baseline alike, so both seeds cross where the mean does.
    assert crossing.sentences == pytest.approx(math.sqrt(500 * 1000))
    assert sorted(crossing.per_seed) == [42, 43]
    assert crossing.spread == pytest.approx((math.sqrt(500 * 1000),) * 2)


def test_crossing_range_when_seeds_disagree():
    frame = pd.DataFrame({
        "strategy": [NAMES.zero_shot] * 2 + ["learning-curve"] * 4,
        "seed": [1, 2, 1, 1, 2, 2],
        "train_sentences": [None, None, 100, 400, 100, 400],
        "lang": ["fr"] * 6,
        "f1": [0.5, 0.5, 0.4, 0.6, 0.45, 0.7],
    })
    crossing = find_crossing(frame, NAMES)
    low, high = crossing.spread
    assert low == pytest.approx(100 * 4 ** (1 / 5))  # seed 2: a fifth of the way in log size
    assert high == pytest.approx(200)  # seed 1: half way
    assert low < crossing.sentences < high
    assert find_crossing(frame[frame["strategy"] != NAMES.zero_shot], NAMES) is None


def test_each_language_is_scored_on_test_where_it_has_one():
    runs = plan_runs(NAMES.langs, ["zero-shot"])
    results = {("zero-shot-de", 42): FakeTrain(with_test=True)(TrainConfig())}
    del results["zero-shot-de", 42].test_metrics["fr"]
    frame = score_frame(runs, results, NAMES).set_index("lang")
    assert frame.loc["de", "split"] == "test" and frame.loc["de", "eval_sentences"] == 300
    assert frame.loc["de", "f1"] == pytest.approx(0.84)
    assert frame.loc["fr", "split"] == "validation" and frame.loc["fr", "f1"] == ZERO_SHOT_FR
