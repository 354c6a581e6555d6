"""The model card: Hub metadata (model-index, widget), the body's tables, the files it writes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, metadata_load

from swiss_ner.config import SWISS_FRACS, SWISS_LANGS, TrainConfig
from swiss_ner.model_card import (
    PER_LANGUAGE_FILE,
    SOURCE_TREE_TEMPLATE,
    card_data_from_results,
    default_template_path,
    followed_link_stand_in,
    render_model_card,
    write_model_card,
)

F1 = {"de": 0.8612, "fr": 0.7023, "it": 0.6871, "en": 0.5894}
REPO_ID = "swiss-org/xlmr-panx-ch"


def make_results(**config_overrides) -> dict:
    """A results.json in the schema of swiss_ner.training (German trained, rest zero-shot)."""
    langs = list(SWISS_LANGS)
    config = TrainConfig(output_dir="outputs/xlmr-panx-ch", **config_overrides).to_dict()
    metrics = {
        lang: {
            "precision": F1[lang] - 0.01,
            "recall": F1[lang] + 0.01,
            "f1": F1[lang],
            "accuracy": 0.97,
            "num_sentences": 200,
            "per_type": {
                entity: {"precision": 0.8, "recall": 0.7, "f1": F1[lang] - 0.02 * i, "number": 40}
                for i, entity in enumerate(["PER", "ORG", "LOC"])
            },
        }
        for lang in langs
    }
    return {
        "config": config,
        "train_langs": ["de"],
        "eval_langs": langs,
        "zero_shot_langs": ["fr", "it", "en"],
        "eval_split": "validation",
        "metrics": metrics,
        "dataset": {
            "source": "/data/panx",
            "fracs": dict(zip(langs, SWISS_FRACS, strict=True)),
            "sizes": {lang: {"train": 12580, "validation": 6290, "test": 6290} for lang in langs},
            "entity_counts": {
                lang: {"train": {"PER": 5366, "ORG": 5366, "LOC": 6186}} for lang in langs
            },
        },
        "history": [
            {"epoch": 1, "step": 525, "train_loss": 0.26, "f1": {lang: 0.5 for lang in langs}}
        ],
        "train_time_s": 754.2,
        "train_steps": 1575,
        "num_processes": 1,
        "mixed_precision": "no",
        "versions": {"swiss_ner": "0.1.0", "transformers": "5.24.0"},
    }


@pytest.fixture
def saved_card(tmp_path) -> Path:
    path = tmp_path / "README.md"
    render_model_card(make_results(), REPO_ID).save(path)
    return path


def test_card_metadata_parses_with_huggingface_hub(saved_card):
    metadata = metadata_load(saved_card)
    assert metadata["language"] == ["de", "fr", "it", "en"]
    assert metadata["pipeline_tag"] == "token-classification"
    assert metadata["library_name"] == "transformers"
    assert metadata["license"] == "apache-2.0"
    assert metadata["datasets"] == ["google/xtreme"]
    assert metadata["base_model"] == "xlm-roberta-base"
    assert {"ner", "xlm-roberta", "pan-x"} <= set(metadata["tags"])
    card = ModelCard.load(saved_card)
    assert card.data.model_name == "xlmr-panx-ch"


def test_model_index_has_one_entry_per_language_with_the_runs_scores(saved_card):
    entries = metadata_load(saved_card)["model-index"][0]["results"]
    assert [entry["dataset"]["config"] for entry in entries] == [f"PAN-X.{x}" for x in F1]
    for entry, f1 in zip(entries, F1.values(), strict=True):
        assert entry["task"]["type"] == "token-classification"
        assert entry["dataset"]["type"] == "google/xtreme"
        assert entry["dataset"]["split"] == "validation"
        values = {metric["type"]: metric["value"] for metric in entry["metrics"]}
        assert values["f1"] == pytest.approx(f1)
        assert set(values) == {"precision", "recall", "f1"}
    eval_results = ModelCard.load(saved_card).data.eval_results
    assert len(eval_results) == 3 * len(F1)


def test_widget_has_an_example_per_language(saved_card):
    widget = metadata_load(saved_card)["widget"]
    titles = [example["example_title"] for example in widget]
    assert titles == ["German", "French", "Italian", "English"]
    assert all(example["text"].strip() for example in widget)
    assert "Zürich" in widget[0]["text"]


def test_body_has_results_table_usage_and_recipe():
    text = render_model_card(make_results(), REPO_ID).text
    assert "| Language | Sentences | Precision | Recall | F1 | PER F1 | ORG F1 | LOC F1 |" in text
    assert "| German (`de`) | 200 | 0.851 | 0.871 | **0.861** | 0.861 | 0.841 | 0.821 |" in text
    assert "| French (`fr`) * |" in text
    assert "Zero-shot (never seen in training): fr, it, en" in text
    assert f'pipeline("ner", model="{REPO_ID}", aggregation_strategy="simple")' in text
    assert f"accelerate launch scripts/train.py --model {REPO_ID}" in text
    assert "| German (`de`) | 0.629 | 12580 | 6290 | 6290 | 5366 | 5366 | 6186 |" in text
    assert "| learning_rate | 5e-05 |" in text
    assert "no MISC class" in text
    assert "continuation piece was labelled with the word's `I-` tag" in text


def test_first_piece_only_training_is_described():
    text = render_model_card(make_results(label_all_tokens=False), REPO_ID).text
    assert 'aggregation_strategy="first"' in text
    assert "continuation piece was labelled" not in text


def test_local_base_model_is_omitted_and_its_size_stated(tmp_path):
    results = make_results(model_name_or_path=str(tmp_path))
    assert card_data_from_results(results, REPO_ID).base_model is None
    small = {"hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 2000}
    text = render_model_card(results, REPO_ID, model_config=small).text
    assert "hidden size 64, 2 layers" in text
    assert "is much smaller than\n> `xlm-roberta-base`" in text
    assert str(tmp_path) not in text
    explicit = card_data_from_results(results, REPO_ID, base_model="FacebookAI/xlm-roberta-base")
    assert explicit.base_model == "FacebookAI/xlm-roberta-base"


def test_card_without_repo_id_uses_the_output_folder_name():
    card = render_model_card(make_results())
    assert card.data.model_name == "xlmr-panx-ch"
    assert 'model="<your-org>/xlmr-panx-ch"' in card.text


def test_write_model_card_writes_readme_and_per_language_csv(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(make_results()))
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 768, "num_hidden_layers": 12}))
    card_path = write_model_card(tmp_path, repo_id=REPO_ID)
    assert card_path == tmp_path / "README.md"
    assert metadata_load(card_path)["model-index"][0]["name"] == "xlmr-panx-ch"
    assert "much smaller" not in card_path.read_text()
    with (tmp_path / PER_LANGUAGE_FILE).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["lang"] for row in rows] == list(F1)
    assert float(rows[0]["f1"]) == pytest.approx(F1["de"])
    assert [row["zero_shot"] for row in rows] == ["False", "True", "True", "True"]
    assert float(rows[1]["LOC_f1"]) == pytest.approx(F1["fr"] - 0.04)


def test_write_model_card_needs_results_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.json"):
        write_model_card(tmp_path)


def test_packaged_template_is_the_top_level_model_card_template():
    assert SOURCE_TREE_TEMPLATE.is_file()
    assert default_template_path().read_text() == SOURCE_TREE_TEMPLATE.read_text()


def test_a_symlink_checked_out_as_a_plain_file_is_followed(tmp_path):
    (tmp_path / "model_card.md").write_text("# {{ model_name }}\n")
    package = tmp_path / "swiss_ner"
    package.mkdir()
    stand_in = package / "model_card_template.md"
    stand_in.write_text("../model_card.md")
    assert followed_link_stand_in(stand_in) == (tmp_path / "model_card.md").resolve()
    real = package / "real_template.md"
    real.write_text("---\n{{ card_data }}\n---\n# {{ model_name }}\n")
    assert followed_link_stand_in(real) == real


def test_card_reports_the_measured_whole_word_share():
    results = make_results()
    for lang, share in zip(SWISS_LANGS, (0.995, 0.93, 0.91, 0.999), strict=True):
        results["metrics"][lang].update(
            subword_agreement=0.97, whole_word_groups=share, simple_groups=250
        )
    text = render_model_card(results, REPO_ID).text
    assert "| Language | Entity groups | Whole words |" in text
    assert "| German | 250 | 99.5% |" in text
    assert "| French | 250 | 93.0% |" in text
    assert "The other groups are fragments" in text

    for lang in SWISS_LANGS:
        results["metrics"][lang]["whole_word_groups"] = 0.995
    text = render_model_card(results, REPO_ID).text
    assert "| Italian | 250 | 99.5% |" in text
    assert "The other groups are fragments" not in text


def test_card_without_whole_word_measurements_has_no_table():
    assert "Whole words |" not in render_model_card(make_results(), REPO_ID).text
