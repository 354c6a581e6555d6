"""Error analysis: masked per-token losses, the tables built from them, and the written report."""

from __future__ import annotations

import math

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import torch

from swiss_ner import cli
from swiss_ner.config import AnalyseConfig
from swiss_ner.constants import LABEL_NAMES
from swiss_ner.experiments.error_analysis import (
    confusion_matrix,
    highest_loss_sequences,
    load_analysis_split,
    loss_by_label,
    loss_by_token,
    run_error_analysis,
    sequence_losses,
    suspected_label_errors,
    token_losses,
)
from swiss_ner.experiments.tables import markdown_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_token_losses_mask_ignored_positions():
    logits = torch.tensor(
        [
            [[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0]],
            [[0.0, 0.0, 5.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]],
        ]
    )
    labels = torch.tensor([[-100, 1, 2], [2, -100, -100]])
    losses = token_losses(logits, labels)

    assert losses.shape == labels.shape
    assert torch.isnan(losses[labels == -100]).all()
    expected_first = -math.log(math.exp(3.0) / (math.exp(3.0) + 2.0))
    assert losses[0, 1].item() == pytest.approx(expected_first)
    assert losses[0, 2].item() == pytest.approx(math.log(3.0))
    assert losses[1, 0].item() == pytest.approx(-math.log(math.exp(5.0) / (math.exp(5.0) + 2.0)))
    assert losses[labels != -100].sum().item() == pytest.approx(
        torch.nn.functional.cross_entropy(
            logits.reshape(-1, 3), labels.reshape(-1), reduction="sum"
        ).item()
    )


def word_frame() -> pd.DataFrame:
    """Hand-made per-word predictions of three sentences."""
    rows = [
        (0, 0, "Zürich", "▁Zürich", "B-LOC", "B-LOC", 0.1, 0.90),
        (0, 1, "liegt", "▁liegt", "O", "O", 0.2, 0.80),
        (1, 0, "Anna", "▁Anna", "B-PER", "B-LOC", 2.0, 0.95),
        (1, 1, "liegt", "▁liegt", "O", "O", 0.1, 0.90),
        (1, 2, "Bern", "▁Bern", "B-LOC", "B-ORG", 1.5, 0.60),
        (2, 0, "Genf", "▁Genf", "B-LOC", "B-LOC", 0.3, 0.99),
        (2, 1, "Genf", "▁Genf", "O", "B-LOC", 3.0, 0.97),
    ]
    frame = pd.DataFrame(
        rows, columns=["row", "position", "word", "token", "gold", "pred", "loss", "confidence"]
    )
    frame["gold_prob"] = 1.0 - frame["confidence"]
    return frame


def test_highest_loss_sequences_are_sorted_by_total_loss():
    frame = word_frame()
    scores = sequence_losses(frame)
    assert scores.index.tolist() == [1, 2, 0]
    assert scores["total_loss"].is_monotonic_decreasing
    assert scores.loc[1, "mean_loss"] == pytest.approx(3.6 / 3)
    tables = highest_loss_sequences(frame, top_k=2)
    assert [t["word"].tolist() for t in tables] == [["Anna", "liegt", "Bern"], ["Genf", "Genf"]]
    assert list(tables[0].columns) == ["word", "token", "gold", "pred", "loss"]


def test_loss_by_token_and_label():
    frame = word_frame()
    by_token = loss_by_token(frame, min_count=2, top_k=10)
    assert by_token.index.tolist() == ["▁Genf", "▁liegt"]
    assert by_token.loc["▁Genf", "sum"] == pytest.approx(3.3)
    assert by_token.loc["▁liegt", "count"] == 2
    by_label = loss_by_label(frame)
    assert by_label["mean"].is_monotonic_decreasing
    assert by_label.loc["O", "count"] == 3


def test_confusion_matrix_rows_sum_to_one():
    gold = ["O", "O", "B-PER", "B-PER", "B-PER", "B-LOC"]
    pred = ["O", "B-LOC", "B-PER", "B-PER", "O", "B-LOC"]
    matrix = confusion_matrix(gold, pred, LABEL_NAMES)
    assert matrix.shape == (7, 7)
    present = [LABEL_NAMES.index(label) for label in {"O", "B-PER", "B-LOC"}]
    np.testing.assert_allclose(matrix[present].sum(axis=1), 1.0)
    assert matrix[LABEL_NAMES.index("B-PER"), LABEL_NAMES.index("B-PER")] == pytest.approx(2 / 3)
    assert matrix[LABEL_NAMES.index("I-ORG")].sum() == 0.0


def test_suspected_label_errors_need_confident_disagreement():
    frame = word_frame()
    words = [["Zürich", "liegt"], ["Anna", "liegt", "Bern"], ["Genf", "Genf"]]
    suspects = suspected_label_errors(frame, words, threshold=0.9)
    assert suspects["row"].tolist() == [2, 1]
    assert suspects["word"].tolist() == ["Genf", "Anna"]
    assert suspects["sentence"].iloc[1] == "Anna liegt Bern"
    assert suspected_label_errors(frame, words, threshold=0.999).empty


def test_markdown_table_formats_numbers_and_blanks():
    frame = pd.DataFrame({"f1": [0.86789, float("nan")], "n": [3, 4]}, index=["a", "b|c"])
    lines = markdown_table(frame).splitlines()
    assert lines[0].split("|")[2].strip() == "f1"
    assert lines[1].startswith("| ---")
    assert "0.868" in lines[2]
    assert "b\\|c" in lines[3] and "nan" not in lines[3]


def test_report_on_small_model(small_model_dir, panx_dir, tmp_path, capsys):
    out = tmp_path / "analysis"
    code = cli.main(
        ["analyse", str(small_model_dir), "--data-dir", str(panx_dir), "--max-samples", "120",
         "--output-dir", str(out), "--batch-size", "32", "--top-k", "3", "--min-count", "3"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Loss by gold label" in printed

    for name in ["error_analysis.md", "token_predictions.csv", "highest_loss_sequences.csv",
                 "loss_by_token.csv", "loss_by_label.csv", "confusion_matrix.csv",
                 "suspected_label_errors.csv"]:
        assert (out / name).stat().st_size > 0, name
    for name in ["confusion_matrix.png", "loss_by_label.png"]:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
        assert matplotlib.image.imread(out / name).ndim == 3

    tokens = pd.read_csv(out / "token_predictions.csv", keep_default_na=False)
    assert tokens["row"].nunique() == 120
    assert pd.to_numeric(tokens["loss"]).notna().all()
    assert set(tokens["gold"]) <= set(LABEL_NAMES)

    sequences = pd.read_csv(out / "highest_loss_sequences.csv", keep_default_na=False)
    totals = sequences.drop_duplicates("row")["total_loss"]
    assert len(totals) == 3 and totals.is_monotonic_decreasing

    confusion = pd.read_csv(out / "confusion_matrix.csv", index_col="gold")
    assert list(confusion.columns) == list(LABEL_NAMES)
    seen = sorted(set(tokens["gold"]))
    np.testing.assert_allclose(confusion.loc[seen].sum(axis=1), 1.0, atol=1e-3)
    markdown = (out / "error_analysis.md").read_text()
    assert "## Confusion matrix" in markdown and "confusion_matrix.png" in markdown


def test_one_label_per_word(small_model_dir, panx_dir, tmp_path, monkeypatch):
    """Only first sub-words are scored, so each untruncated sentence yields one row per word;
    predictions come from the one gathering generator of swiss_ner.evaluation."""
    from swiss_ner import evaluation
    from swiss_ner.data import load_panx
    from swiss_ner.experiments import error_analysis

    assert error_analysis.gathered_predictions is evaluation.gathered_predictions
    gathered = []

    def recording(*args, **kwargs):
        gathered.append(kwargs.get("extra"))
        return evaluation.gathered_predictions(*args, **kwargs)

    monkeypatch.setattr(error_analysis, "gathered_predictions", recording)
    result = run_error_analysis(AnalyseConfig(
        model_dir=str(small_model_dir), data_dir=str(panx_dir), lang="fr", max_samples=40,
        output_dir=str(tmp_path), batch_size=16,
    ))
    assert gathered == [("row",)]
    dataset = load_panx("fr", panx_dir)["validation"].select(range(40))
    assert len(result.tokens) == sum(len(words) for words in dataset["tokens"])
    assert sorted(result.tokens["row"].unique()) == list(range(40))
    for row in (0, 17, 39):
        words = result.tokens[result.tokens["row"] == row].sort_values("position")["word"]
        assert words.tolist() == list(dataset[row]["tokens"])
    assert result.paths["markdown"].exists()


def test_hub_label_order_is_renumbered_to_the_model(monkeypatch):
    """PAN-X from the Hub keeps its own label ids; the analysis reads them by name."""
    from datasets import Dataset, DatasetDict

    from swiss_ner import data

    hub = Dataset.from_dict(
        {"tokens": [["Anna", "in", "Bern"]], "ner_tags": [[1, 0, 5]], "langs": [["de"] * 3]},
        features=data.panx_features(LABEL_NAMES),
    )
    monkeypatch.setattr(data, "load_panx", lambda *args, **kwargs: DatasetDict(validation=hub))
    model_labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
    dataset = load_analysis_split(AnalyseConfig(model_dir="m"), model_labels)
    assert dataset["ner_tags"] == [[3, 0, 1]]
    assert dataset.features["ner_tags"].feature.names == model_labels
    with pytest.raises(ValueError, match="does not know"):
        load_analysis_split(AnalyseConfig(model_dir="m"), ["O", "B-PER", "I-PER"])
    with pytest.raises(ValueError, match="no 'test' split"):
        load_analysis_split(AnalyseConfig(model_dir="m", split="test"), LABEL_NAMES)


def test_an_iob1_file_is_analysed_as_iob2_with_tag_scheme(tmp_path):
    (tmp_path / "validation-de.tsv").write_text("Anna\tI-PER\nin\tO\nBern\tI-LOC\n")
    config = AnalyseConfig(model_dir="m", data_dir=str(tmp_path), tag_scheme="iob1")
    config.validate()
    assert load_analysis_split(config, LABEL_NAMES)["ner_tags"] == [[1, 0, 5]]
    with pytest.raises(ValueError, match="validation-de.tsv:1: 'I-PER' follows 'O'.*--tag-scheme"):
        load_analysis_split(AnalyseConfig(model_dir="m", data_dir=str(tmp_path)), LABEL_NAMES)


@pytest.mark.parametrize(("options", "message"), [
    ({"tag_scheme": "bilou", "data_dir": "d"}, "--tag-scheme must be one of iob2, iob1, bioes"),
    ({"tag_scheme": "bioes"}, "--tag-scheme and --tag-column describe the files in --data-dir"),
    ({"tag_column": 1, "data_dir": "d"}, "--tag-column must be at least 2"),
])
def test_bad_tag_options_are_refused_by_name(options, message):
    from swiss_ner.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        AnalyseConfig(model_dir="m", **options).validate()
