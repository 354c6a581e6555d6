"""A label set other than PAN-X's, end to end: a MISC-labelled data set written here is trained
on, reported on, analysed, carded, dry-run pushed and tagged with, through the command line.

The data is PAN-X's text with a made-up MISC type: capitalised words outside any entity (after
the first word of a sentence) become MISC. The data has a test split, so the run is also
scored on test, and the card leads with it.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pandas as pd
import pytest

from swiss_ner import cli
from swiss_ner.constants import LABEL_NAMES
from swiss_ner.data import load_panx
from swiss_ner.results import RunResults

MISC_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
# Sentences per split and language: (first sentence, count) of PAN-X's split it comes from.
SLICES = {"train": ("train", 0, 240), "validation": ("validation", 0, 60),
          "test": ("validation", 60, 60)}
TINY_TRAINING = ["--batch-size", "16", "--learning-rate", "3e-3", "--max-length", "64",
                 "--report-to", "none", "--langs", "de", "fr", "--fracs", "1", "1",
                 "--eval-langs", "de", "fr", "--label-names", *MISC_LABELS]


def with_misc(words: list[str], tags: list[str]) -> list[str]:
    """Capitalised words outside entities (not the sentence's first) become a MISC entity."""
    out = list(tags)
    for i, (word, tag) in enumerate(zip(words, tags, strict=True)):
        if i and tag == "O" and word[:1].isupper() and word.isalpha() and len(word) > 3:
            inside = out[i - 1] in ("B-MISC", "I-MISC")
            out[i] = "I-MISC" if inside else "B-MISC"
    return out


def write_misc_data(panx_dir: Path, folder: Path) -> Path:
    """``{train,validation,test}-{de,fr}.tsv`` with the nine MISC labels."""
    folder.mkdir(parents=True, exist_ok=True)
    for lang in ("de", "fr"):
        panx = load_panx(lang, panx_dir)
        for split, (source, start, count) in SLICES.items():
            rows = panx[source].select(range(start, start + count))
            lines = []
            for words, ids in zip(rows["tokens"], rows["ner_tags"], strict=True):
                tags = with_misc(words, [LABEL_NAMES[i] for i in ids])
                lines += [f"{word}\t{tag}" for word, tag in zip(words, tags, strict=True)] + [""]
            (folder / f"{split}-{lang}.tsv").write_text("\n".join(lines), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def misc_data(panx_dir, tmp_path_factory) -> Path:
    return write_misc_data(panx_dir, tmp_path_factory.mktemp("misc-data"))


@pytest.fixture(scope="module")
def misc_model(misc_data, small_model_dir, tmp_path_factory) -> Path:
    """The tiny model trained for a few dozen steps on German and French with MISC."""
    out = tmp_path_factory.mktemp("misc-model")
    code = cli.main(["train", "--model", str(small_model_dir), "--data-dir", str(misc_data),
                     "--output-dir", str(out), "--train-langs", "de", "fr", "--max-steps", "30",
                     *TINY_TRAINING])
    if code != 0:
        pytest.fail(f"swiss-ner train exited {code} on the MISC data (see the captured stderr)")
    # An in-process run leaves its caller's signals as they were: a SIGTERM left ignored would be
    # inherited by every process the caller starts afterwards.
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    return out


def test_written_data_has_misc_in_every_split(misc_data):
    for lang in ("de", "fr"):
        splits = load_panx(lang, misc_data, label_names=MISC_LABELS)
        assert set(splits) == {"train", "validation", "test"}
        for dataset in splits.values():
            assert any(MISC_LABELS.index("B-MISC") in tags for tags in dataset["ner_tags"])


def test_training_scores_misc(misc_model):
    results = RunResults.load(misc_model)
    assert results.label_names == MISC_LABELS
    assert results.entity_types == ["PER", "ORG", "LOC", "MISC"]
    assert results.headline_split == "test", "the data has a test split"
    for scores in [*results.metrics.values(), *results.test_metrics.values()]:
        assert "MISC" in scores.per_type and scores.per_type["MISC"].number > 0
    config = json.loads((misc_model / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(9)] == MISC_LABELS


def test_report_with_misc_labels(misc_data, small_model_dir, tmp_path, capsys):
    code = cli.main(["report", "--model", str(small_model_dir), "--data-dir", str(misc_data),
                     "--report-dir", str(tmp_path), "--strategies", "learning-curve",
                     "--curve-sizes", "60", "120", "--max-steps", "3", "--no-keep-weights",
                     *TINY_TRAINING])
    assert code == 0, capsys.readouterr().err
    markdown = (tmp_path / "crosslingual.md").read_text()
    assert "entity types PER, ORG, LOC, MISC" in markdown
    assert "on the **test** split (the data's test split)" in markdown
    assert "de 60, fr 60" in markdown
    curve = pd.read_csv(tmp_path / "learning_curve.csv")
    assert curve["sentences"].tolist() == [60, 120]
    run = RunResults.load(tmp_path / "runs" / "curve-fr-60" / "seed-42")
    assert run.label_names == MISC_LABELS


def test_error_analysis_reads_the_models_labels(misc_model, misc_data, tmp_path):
    code = cli.main(["analyse", str(misc_model), "--data-dir", str(misc_data), "--lang", "fr",
                     "--split", "test", "--output-dir", str(tmp_path), "--min-count", "2"])
    assert code == 0
    confusion = pd.read_csv(tmp_path / "confusion_matrix.csv", index_col="gold")
    assert list(confusion.columns) == MISC_LABELS
    tokens = pd.read_csv(tmp_path / "token_predictions.csv", keep_default_na=False)
    assert "B-MISC" in set(tokens["gold"])
    assert tokens["row"].nunique() == 60
    assert "misc-data" in (tmp_path / "error_analysis.md").read_text().splitlines()[0]


def test_model_card_has_a_misc_column_and_leads_with_test(misc_model):
    card = (misc_model / "README.md").read_text()
    header = next(line for line in card.splitlines() if "PER" in line and "|" in line)
    assert "MISC" in header, f"per-type table without MISC: {header!r}"
    results = RunResults.load(misc_model)
    body = card.split("---", 2)[2]
    assert body.index("test") < body.index("### Validation split"), "test is the headline"
    metadata = card.split("---", 2)[1]
    for split in ("test", "validation"):
        assert f"split: {split}" in metadata, split
    for scores in results.test_metrics.values():
        assert scores.f1_ci.low <= scores.f1 <= scores.f1_ci.high
        assert f"{scores.num_sentences:,} sentences" in metadata


def test_push_dry_run_with_misc(misc_model, capsys):
    code = cli.main(["push", str(misc_model), "--repo-id", "me/x", "--dry-run"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "model.safetensors" in captured.out
    assert "MISC" in (misc_model / "README.md").read_text()


def test_tag_with_misc_model(misc_model, capsys):
    code = cli.main(["tag", "Roger Federer traf 1990 die Credit Suisse in Zürich.",
                     "--model", str(misc_model), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [line] = captured.out.splitlines()
    entities = json.loads(line)["entities"]
    assert {entity["type"] for entity in entities} <= {"PER", "ORG", "LOC", "MISC"}
    for entity in entities:
        assert entity["text"] == "Roger Federer traf 1990 die Credit Suisse in Zürich."[
            entity["start"]:entity["end"]]
