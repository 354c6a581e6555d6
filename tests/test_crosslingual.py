"""The cross-lingual report: run planning, caching, the tables and files it writes.

Most tests replace training by a fake that writes a results.json instantly; one test trains
the tiny model for real to check that real results are read and cached.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

from swiss_ner.config import TrainConfig
from swiss_ner.experiments import crosslingual
from swiss_ner.experiments.crosslingual import (
    crossing_point,
    curve_sizes_capped,
    parse_args,
    plan_runs,
    run_crosslingual,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZERO_SHOT_FR = 0.45


def fake_f1(config: TrainConfig, lang: str) -> float:
    """Made-up scores: the French curve rises 0.1 per doubling from 0.3 at 250 sentences, so it
    crosses the zero-shot French F1 of 0.45 at sqrt(500 * 1000) on a log scale."""
    if config.train_langs == ["fr"] and config.max_train_samples:
        return 0.3 + 0.1 * math.log2(config.max_train_samples / 250)
    if config.train_langs == ["de"]:
        return {"de": 0.85, "fr": ZERO_SHOT_FR, "it": 0.4, "en": 0.35}[lang]
    return 0.8 if lang in config.train_langs else 0.5


class FakeTrain:
    """Stands in for ``swiss_ner.training.train``: writes what a real run writes, instantly."""

    def __init__(self) -> None:
        self.configs: list[TrainConfig] = []

    def __call__(self, config: TrainConfig) -> dict:
        self.configs.append(config)
        out = Path(config.output_dir)
        (out / "checkpoints" / "epoch_1").mkdir(parents=True, exist_ok=True)
        (out / "model.safetensors").write_bytes(b"weights")
        results = {
            "config": config.to_dict(),
            "train_langs": config.train_langs,
            "eval_langs": config.eval_langs,
            "metrics": {lang: {"f1": fake_f1(config, lang)} for lang in config.eval_langs},
        }
        (out / "results.json").write_text(json.dumps(results))
        config.save(out / "train_config.json")
        return results


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50


@pytest.fixture
def base_config(panx_dir) -> TrainConfig:
    return TrainConfig(model_name_or_path="tiny-model", data_dir=str(panx_dir), report_to="none")


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


def test_crossing_point_interpolates_on_log_size():
    assert crossing_point([250, 500, 1000], [0.3, 0.4, 0.5], 0.45) == pytest.approx(
        math.sqrt(500 * 1000)
    )
    assert crossing_point([250, 500], [0.3, 0.4], 0.45) is None
    assert crossing_point([250, 500], [0.5, 0.6], 0.45) is None


def test_report_files_tables_and_cache(base_config, tmp_path):
    fake = FakeTrain()
    report = run_crosslingual(base_config, tmp_path, train_fn=fake)

    assert len(fake.configs) == 1 + 5 + 3 + 2, "each-de is the zero-shot run's German score"
    assert all(not c.push_to_hub for c in fake.configs)
    assert {Path(c.output_dir).parent for c in fake.configs} == {tmp_path / "runs"}

    table = pd.read_csv(tmp_path / "crosslingual.csv", index_col="strategy")
    assert list(table.columns) == ["de", "fr", "it", "en"]
    assert list(table.index) == [
        "zero-shot (de only)", "each (own language)", "de+fr", "all (de+fr+it+en)"
    ]
    assert table.loc["zero-shot (de only)", "fr"] == pytest.approx(ZERO_SHOT_FR)
    assert table.loc["each (own language)"].tolist() == pytest.approx([0.85, 0.8, 0.8, 0.8])
    assert table.loc["de+fr", "it"] == pytest.approx(0.5)

    curve = pd.read_csv(tmp_path / "learning_curve.csv")
    assert curve["sentences"].tolist() == [250, 500, 1000, 2000, 4000]
    assert report.crossing == pytest.approx(math.sqrt(500 * 1000))

    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "| strategy" in markdown and "0.450" in markdown
    assert "about 707 French sentences" in markdown
    assert "book" not in markdown
    assert_png(tmp_path / "crosslingual.png")
    assert_png(tmp_path / "learning_curve.png")

    for config in fake.configs:
        assert not (Path(config.output_dir) / "checkpoints").exists()
        assert (Path(config.output_dir) / "model.safetensors").exists()

    again = run_crosslingual(base_config, tmp_path, train_fn=fake)
    assert len(fake.configs) == 11, "a second report must reuse every finished run"
    pd.testing.assert_frame_equal(again.table, report.table)


def test_changed_hyper_parameters_retrain(base_config, tmp_path):
    fake = FakeTrain()
    run_crosslingual(base_config, tmp_path, strategies=["each"], train_fn=fake)
    assert len(fake.configs) == 4
    run_crosslingual(base_config, tmp_path, strategies=["each"], train_fn=fake)
    assert len(fake.configs) == 4
    changed = TrainConfig(**{**base_config.to_dict(), "learning_rate": 1e-4})
    run_crosslingual(changed, tmp_path, strategies=["each"], train_fn=fake)
    assert len(fake.configs) == 8


def test_subset_of_strategies_and_capped_curve(base_config, tmp_path):
    fake = FakeTrain()
    config = TrainConfig(**{**base_config.to_dict(), "max_train_samples": 600})
    report = run_crosslingual(config, tmp_path, strategies=["learning-curve"], train_fn=fake,
                              keep_weights=False)
    assert [c.max_train_samples for c in fake.configs] == [600, 250, 500, 600]
    assert list(report.table.index) == ["zero-shot (de only)"]
    assert report.curve["sentences"].tolist() == [250, 500, 600]
    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "capped at 600" in markdown
    assert not any(Path(c.output_dir, "model.safetensors").exists() for c in fake.configs)


def test_book_figures_only_for_xlm_roberta_base(base_config, tmp_path):
    config = TrainConfig(**{**base_config.to_dict(), "model_name_or_path": "xlm-roberta-base"})
    run_crosslingual(config, tmp_path, strategies=["zero-shot"], train_fn=FakeTrain())
    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "the book's figures (not our runs)" in markdown
    assert "0.714" in markdown and "750" in markdown


def test_parse_args_splits_config_and_report_options():
    config, options = parse_args(
        ["--model", "some/model", "--learning-rate", "1e-4", "--strategies", "each", "all",
         "--curve-sizes", "100", "200", "--report-dir", "somewhere", "--no-keep-weights"]
    )
    assert config.model_name_or_path == "some/model"
    assert config.learning_rate == 1e-4
    assert options.strategies == ["each", "all"]
    assert options.curve_sizes == [100, 200]
    assert options.report_dir == "somewhere"
    assert options.keep_weights is False


def test_main_calls_the_training_loop(monkeypatch, panx_dir, tmp_path, capsys):
    import swiss_ner.training

    fake = FakeTrain()
    monkeypatch.setattr(swiss_ner.training, "train", fake)
    crosslingual.main(["--data-dir", str(panx_dir), "--report-dir", str(tmp_path),
                       "--strategies", "zero-shot", "--report-to", "none"])
    assert len(fake.configs) == 1
    assert "zero-shot (de only)" in capsys.readouterr().out


def test_real_training_run_is_reported_and_cached(train_config_factory, tmp_path, monkeypatch):
    import swiss_ner.training

    config = train_config_factory(
        langs=["de", "fr"], fracs=[0.629, 0.229], eval_langs=["de", "fr"],
        max_train_samples=100, max_eval_samples=40, num_epochs=1, max_steps=4, batch_size=16,
    )
    report = run_crosslingual(config, tmp_path, strategies=["zero-shot"])
    row = report.table.loc["zero-shot (de only)"]
    assert row.notna().all() and ((row >= 0) & (row <= 1)).all()
    run_dir = tmp_path / "runs" / "zero-shot-de"
    assert (run_dir / "results.json").exists()
    assert not (run_dir / "checkpoints").exists()

    def must_not_train(config):
        raise AssertionError("the finished run should have been reused")

    monkeypatch.setattr(swiss_ner.training, "train", must_not_train)
    again = run_crosslingual(config, tmp_path, strategies=["zero-shot"])
    pd.testing.assert_frame_equal(again.table, report.table)
