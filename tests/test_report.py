"""The cross-lingual report: the files it writes, its tables with their uncertainty, the cache
across reports, the ``swiss-ner report`` command, and one report over real training runs."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.axes
import matplotlib.image
import pandas as pd
import pytest
from test_experiments_runs import ZERO_SHOT_FR, FakeTrain

from swiss_ner import cli
from swiss_ner.config import ReportConfig, TrainConfig, config_from_namespace, with_options
from swiss_ner.experiments.report import build_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_RUNS = 1 + 5 + 3 + 2  # zero-shot, curve, each (but de), de-fr and all


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50


@pytest.fixture
def base_config(panx_dir, tmp_path) -> ReportConfig:
    training = TrainConfig.from_flat({"model_name_or_path": "tiny-model",
                                      "data_dir": str(panx_dir), "report_to": "none"})
    return ReportConfig(training=training, report_dir=str(tmp_path))


def test_report_files_tables_and_cache(base_config, tmp_path):
    fake = FakeTrain()
    report = build_report(base_config, train_fn=fake)

    assert len(fake.configs) == ALL_RUNS, "each-de is the zero-shot run's German score"
    assert all(not c.hub.push_to_hub for c in fake.configs)
    assert {Path(c.output_dir).parent.parent for c in fake.configs} == {tmp_path / "runs"}
    assert {Path(c.output_dir).name for c in fake.configs} == {"seed-42"}

    table = pd.read_csv(tmp_path / "crosslingual.csv", index_col="strategy")
    assert list(table.columns) == ["de", "fr", "it", "en"]
    assert list(table.index) == [
        "zero-shot (de only)", "each (own language)", "de+fr", "all (de+fr+it+en)"
    ]
    assert table.loc["zero-shot (de only)", "fr"] == pytest.approx(ZERO_SHOT_FR)
    assert table.loc["each (own language)"].tolist() == pytest.approx([0.85, 0.8, 0.8, 0.8])
    assert table.loc["de+fr", "it"] == pytest.approx(0.5)
    summary = pd.read_csv(tmp_path / "crosslingual_summary.csv")
    assert {"f1", "std", "min", "max", "seeds", "low", "high"} <= set(summary.columns)
    scores = pd.read_csv(tmp_path / "crosslingual_scores.csv")
    assert len(scores) == 4 + 5 + 3 + 4 + 4 + 1, "one row per run, seed and language"

    curve = pd.read_csv(tmp_path / "learning_curve.csv")
    assert curve["sentences"].tolist() == [250, 500, 1000, 2000, 4000]
    assert report.findings.crossing.sentences == pytest.approx(math.sqrt(500 * 1000))

    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "| strategy" in markdown and "0.450" in markdown
    assert "0.450 [0.430, 0.480]" in markdown, "one seed: F1 with its bootstrap interval"
    assert "95% bootstrap confidence interval" in markdown
    assert "about 707 French sentences" in markdown and "One seed gives no range" in markdown
    assert "book" not in markdown
    assert_png(tmp_path / "crosslingual.png")
    assert_png(tmp_path / "learning_curve.png")

    for config in fake.configs:
        assert not (Path(config.output_dir) / "checkpoints").exists()
        assert (Path(config.output_dir) / "model.safetensors").exists()

    again = build_report(base_config, train_fn=fake)
    assert len(fake.configs) == ALL_RUNS, "a second report must reuse every finished run"
    pd.testing.assert_frame_equal(again.findings.table, report.findings.table)


def test_changed_hyper_parameters_retrain(base_config):
    fake = FakeTrain()
    config = with_options(base_config, strategies=["each"])
    build_report(config, train_fn=fake)
    assert len(fake.configs) == 4
    build_report(config, train_fn=fake)
    assert len(fake.configs) == 4
    build_report(with_options(config, learning_rate=1e-4), train_fn=fake)
    assert len(fake.configs) == 8


def test_subset_of_strategies_and_capped_curve(base_config, tmp_path):
    fake = FakeTrain()
    config = with_options(base_config, max_train_samples=600,
                                 strategies=["learning-curve"], keep_weights=False)
    report = build_report(config, train_fn=fake)
    assert [c.data.max_train_samples for c in fake.configs] == [600, 250, 500, 600]
    assert list(report.findings.table.index) == ["zero-shot (de only)"]
    assert report.findings.curve["sentences"].tolist() == [250, 500, 600]
    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "capped at 600" in markdown
    assert not any(Path(c.output_dir, "model.safetensors").exists() for c in fake.configs)


def test_book_figures_only_for_xlm_roberta_base(base_config, tmp_path):
    config = with_options(base_config, model_name_or_path="xlm-roberta-base",
                                 strategies=["zero-shot"])
    build_report(config, train_fn=FakeTrain())
    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "the book's figures (not our runs)" in markdown
    assert "0.714" in markdown and "750" in markdown


@pytest.fixture
def drawn(monkeypatch) -> dict[str, list]:
    """What the plots hand to matplotlib: the bars' error bars and the filled bands."""
    calls: dict[str, list] = {"yerr": [], "fill_between": []}
    bar, fill_between = matplotlib.axes.Axes.bar, matplotlib.axes.Axes.fill_between

    def record_bar(self, *args, **kwargs):
        calls["yerr"].append(kwargs.get("yerr"))
        return bar(self, *args, **kwargs)

    def record_fill(self, x, low, high, **kwargs):
        calls["fill_between"].append((list(x), list(low), list(high)))
        return fill_between(self, x, low, high, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", record_bar)
    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between", record_fill)
    return calls


def test_seeds_give_spread_bands_and_crossing_range(base_config, tmp_path, drawn):
    fake = FakeTrain()
    config = with_options(base_config, seeds=2, strategies=["learning-curve", "each"],
                                 curve_sizes=[250, 500, 1000])
    report = build_report(config, train_fn=fake)
    assert len(fake.configs) == 2 * (1 + 3 + 3)
    assert {Path(c.output_dir).name for c in fake.configs} == {"seed-42", "seed-43"}
    assert (tmp_path / "runs" / "curve-fr-500" / "seed-43" / "results.json").exists()

    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "mean ± standard deviation over 2 seeds (sample std)" in markdown
    assert "0.455 ± 0.007" in markdown
    assert "Seed by seed it crosses between 707 and 707 sentences" in markdown
    assert "2 of 2 seeds" in markdown

    assert all(yerr is not None and yerr.shape[0] == 2 for yerr in drawn["yerr"])
    assert any(yerr.sum() > 0 for yerr in drawn["yerr"])
    [(sizes, low, high)] = drawn["fill_between"]
    assert sizes == [250, 500, 1000]
    curve = report.findings.curve
    assert low == pytest.approx((curve["f1"] - curve["std"]).tolist())
    assert high == pytest.approx((curve["f1"] + curve["std"]).tolist())


def test_one_seed_draws_the_bootstrap_band(base_config, drawn):
    config = with_options(base_config, strategies=["learning-curve"], curve_sizes=[250, 500])
    build_report(config, train_fn=FakeTrain())
    [(sizes, low, high)] = drawn["fill_between"]
    assert low == pytest.approx([0.28, 0.38]) and high == pytest.approx([0.33, 0.43])


def test_markdown_names_the_split_and_its_sentences(base_config, tmp_path):
    config = with_options(base_config, strategies=["zero-shot"])
    build_report(config, train_fn=FakeTrain())
    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "on the **validation** split (validation: the data has no test split)" in markdown
    assert "de 200, fr 200, it 200, en 200" in markdown

    build_report(with_options(config, report_dir=str(tmp_path / "t")),
                 train_fn=FakeTrain(with_test=True))
    markdown = (tmp_path / "t" / "crosslingual.md").read_text()
    assert "on the **test** split (the data's test split)" in markdown
    assert "de 300" in markdown and "0.440" in markdown

    mixed = FakeTrain(with_test=True)

    def without_french_test(train_config):
        results = mixed(train_config)
        del results.test_metrics["fr"]
        results.save(Path(train_config.output_dir) / "results.json")
        return results

    build_report(with_options(config, report_dir=str(tmp_path / "m")),
                 train_fn=without_french_test)
    markdown = (tmp_path / "m" / "crosslingual.md").read_text()
    assert "on the **test and validation** splits (test where the data has one)" in markdown
    assert "de 300 (test), fr 200 (validation)" in markdown


def test_cli_parses_report_options():
    args = cli.build_parser().parse_args(
        ["report", "--model", "some/model", "--learning-rate", "1e-4", "--strategies", "each",
         "all", "--curve-sizes", "100", "200", "--report-dir", "somewhere", "--no-keep-weights",
         "--seeds", "3"]
    )
    config = config_from_namespace(ReportConfig, args)
    assert config.training.model_name_or_path == "some/model"
    assert config.training.optimisation.learning_rate == 1e-4
    assert config.strategies == ["each", "all"]
    assert config.curve_sizes == [100, 200]
    assert config.report_dir == "somewhere"
    assert config.keep_weights is False
    assert config.seeds == 3
    assert config.training == with_options(TrainConfig(), model_name_or_path="some/model",
                                           learning_rate=1e-4)


def test_report_help_reads_in_sections_and_hides_the_run_folder(capsys):
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    text = capsys.readouterr().out
    headings = [line[:-1] for line in text.splitlines() if line.endswith(":") and " " not in line]
    assert headings[-7:] == ["training", "data", "optimisation", "batching", "device",
                             "checkpoints", "hub"]
    assert "--learning-rate" in text and "--report-dir" in text
    assert "--output-dir OUTPUT_DIR" not in text, "each run gets its folder under --report-dir"


def test_cli_report_calls_the_training_loop(monkeypatch, panx_dir, tmp_path, capsys):
    import swiss_ner.training

    fake = FakeTrain()
    monkeypatch.setattr(swiss_ner.training, "train", fake)
    code = cli.main(["report", "--data-dir", str(panx_dir), "--report-dir", str(tmp_path),
                     "--strategies", "zero-shot", "--report-to", "none"])
    assert code == 0
    assert len(fake.configs) == 1
    printed = capsys.readouterr().out
    assert "zero-shot (de only)" in printed and "crosslingual.md" in printed


def test_cli_report_errors_in_one_line(panx_dir, tmp_path, capsys):
    code = cli.main(["report", "--data-dir", str(panx_dir), "--report-dir", str(tmp_path),
                     "--target-lang", "xx"])
    assert code == 2
    assert capsys.readouterr().err.startswith("swiss-ner: error: language 'xx'")


def test_real_training_run_is_reported_and_cached(train_config_factory, tmp_path, monkeypatch):
    import swiss_ner.training

    train_config = train_config_factory(
        langs=["de", "fr"], fracs=[0.629, 0.229], eval_langs=["de", "fr"],
        max_train_samples=100, max_eval_samples=40, num_epochs=1, max_steps=4, batch_size=16,
    )
    config = ReportConfig(training=train_config, report_dir=str(tmp_path),
                          strategies=["zero-shot"])
    report = build_report(config)
    row = report.findings.table.loc["zero-shot (de only)"]
    assert row.notna().all() and ((row >= 0) & (row <= 1)).all()
    cell = report.findings.summary.loc[("zero-shot (de only)", "fr")]
    assert cell["low"] <= cell["f1"] <= cell["high"], "real runs carry bootstrap intervals"
    assert cell["eval_sentences"] == 40
    run_dir = tmp_path / "runs" / "zero-shot-de" / "seed-42"
    assert (run_dir / "results.json").exists()
    assert not (run_dir / "checkpoints").exists()

    def must_not_train(config):
        raise AssertionError("the finished run should have been reused")

    monkeypatch.setattr(swiss_ner.training, "train", must_not_train)
    again = build_report(config)
    pd.testing.assert_frame_equal(again.findings.table, report.findings.table)
