"""The model card: Hub metadata (model-index, widget), the body's tables, the files it writes.

Run records are built directly as :class:`RunResults`, so most of these tests need no model.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, metadata_load

from swiss_ner.config import TrainConfig
from swiss_ner.constants import LABEL_NAMES, SWISS_FRACS, SWISS_LANGS, entity_types
from swiss_ner.model_card import (
    PER_LANGUAGE_FILE,
    TEMPLATE_PATH,
    canonical_base_model,
    card_data_from_results,
    folder_model_card,
    format_f1,
    render_model_card,
    write_model_card,
)
from swiss_ner.results import (
    Batching,
    DatasetInfo,
    EntityScores,
    EpochRecord,
    Interval,
    LanguageScores,
    RunResults,
)

F1 = {"de": 0.8612, "fr": 0.7023, "it": 0.6871, "en": 0.5894}
TEST_SENTENCES = {"de": 6290, "fr": 2290, "it": 840, "en": 590}
CI_HALF_WIDTH = 0.011
REPO_ID = "swiss-org/xlmr-panx-ch"
ROOT = Path(__file__).resolve().parent.parent
REFERENCE_RUN = ROOT / "docs" / "reference_run"
MISC_LABELS = [*LABEL_NAMES, "B-MISC", "I-MISC"]


def interval(value: float) -> Interval:
    return Interval(round(value - CI_HALF_WIDTH, 4), round(value + CI_HALF_WIDTH, 4))


def language_scores(f1: float, num_sentences: int, types: list[str]) -> LanguageScores:
    """Scores of one language: each entity type 0.02 below the previous one."""
    return LanguageScores(
        precision=f1 - 0.01,
        recall=f1 + 0.01,
        f1=f1,
        accuracy=0.97,
        num_sentences=num_sentences,
        num_entities=3 * num_sentences // 2,
        per_type={
            entity: EntityScores(0.8, 0.7, f1 - 0.02 * i, 40, interval(f1 - 0.02 * i))
            for i, entity in enumerate(types)
        },
        f1_ci=interval(f1),
    )


def make_results(
    test: bool = False, label_names: list[str] = LABEL_NAMES, **config_overrides
) -> RunResults:
    """A run record as training writes it (German trained, rest zero-shot); ``test`` adds the
    test split's scores (0.01 below validation)."""
    langs = list(SWISS_LANGS)
    types = entity_types(label_names)
    config = TrainConfig.from_flat(
        {"output_dir": "outputs/xlmr-panx-ch", "label_names": list(label_names), **config_overrides}
    )
    splits = ("train", "validation", "test") if test else ("train", "validation")
    return RunResults(
        config=config,
        base_model=canonical_base_model(config.model_name_or_path),
        label_names=list(label_names),
        train_langs=["de"],
        eval_langs=langs,
        eval_split="validation",
        metrics={lang: language_scores(F1[lang], 200, types) for lang in langs},
        test_metrics={
            lang: language_scores(F1[lang] - 0.01, TEST_SENTENCES[lang], types) for lang in langs
        }
        if test
        else {},
        dataset=DatasetInfo(
            source="/data/panx",
            fracs=dict(zip(langs, SWISS_FRACS, strict=True)),
            train_sentences=12580,
            sizes={lang: {split: 6290 for split in splits} for lang in langs},
            entity_counts={
                lang: {"train": dict(zip(types, (5366, 5366, 6186, 4000), strict=False))}
                for lang in langs
            },
        ),
        history=[EpochRecord(epoch=1, step=525, train_loss=0.26, f1=dict.fromkeys(langs, 0.5))],
        train_time_s=754.2,
        train_steps=1575,
        num_processes=1,
        mixed_precision="no",
        versions={"swiss_ner": "0.2.0", "transformers": "5.24.0"},
        batching=Batching(group_by_length=False, pack=True),
    )


def save_tiny_model(folder: Path, label_names: list[str] = LABEL_NAMES) -> Path:
    """A tiny untrained XLM-R tagger with a character tokenizer: a complete model folder."""
    from transformers import XLMRobertaConfig, XLMRobertaForTokenClassification, XLMRobertaTokenizer

    letters = sorted(set("abcdefghijklmnopqrstuvwxyzäöüéèàABCDEFGHIJKLMNOPQRSTUVWXYZ.,"))
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [("▁" + c, -2.0) for c in letters] + [(c, -3.0) for c in letters]
    vocab.append(("<mask>", 0.0))
    XLMRobertaTokenizer(vocab=vocab).save_pretrained(folder)
    config = XLMRobertaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
    )
    XLMRobertaForTokenClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def saved_card(tmp_path) -> Path:
    path = tmp_path / "README.md"
    render_model_card(make_results(), REPO_ID).save(path)
    return path


def table_row(text: str, start: str) -> str:
    """The one line of ``text`` that starts with ``start``."""
    rows = [line for line in text.splitlines() if line.startswith(start)]
    assert len(rows) == 1, (start, rows)
    return rows[0]


def test_card_metadata_parses_with_huggingface_hub(saved_card):
    metadata = metadata_load(saved_card)
    assert metadata["language"] == ["de", "fr", "it", "en"]
    assert metadata["pipeline_tag"] == "token-classification"
    assert metadata["library_name"] == "transformers"
    assert metadata["license"] == "apache-2.0"
    assert metadata["datasets"] == ["google/xtreme"]
    assert metadata["base_model"] == "FacebookAI/xlm-roberta-base"
    assert {"ner", "xlm-roberta", "pan-x"} <= set(metadata["tags"])
    card = ModelCard.load(saved_card)
    assert card.data.model_name == "xlmr-panx-ch"


def test_base_model_is_the_canonical_hub_id(tmp_path):
    assert canonical_base_model("xlm-roberta-base") == "FacebookAI/xlm-roberta-base"
    assert canonical_base_model("FacebookAI/xlm-roberta-base") == "FacebookAI/xlm-roberta-base"
    assert canonical_base_model(str(tmp_path)) is None
    legacy = make_results(model_name_or_path="xlm-roberta-base")
    assert card_data_from_results(legacy, REPO_ID).base_model == "FacebookAI/xlm-roberta-base"
    text = render_model_card(legacy, REPO_ID).text
    hub_id = "FacebookAI/xlm-roberta-base"
    assert f"[{hub_id}](https://huggingface.co/{hub_id})" in text


def test_model_index_has_one_entry_per_language_with_the_runs_scores(saved_card):
    entries = metadata_load(saved_card)["model-index"][0]["results"]
    assert [entry["dataset"]["config"] for entry in entries] == [f"PAN-X.{x}" for x in F1]
    for entry, (lang, f1) in zip(entries, F1.items(), strict=True):
        assert entry["task"]["type"] == "token-classification"
        assert entry["dataset"]["type"] == "google/xtreme"
        assert entry["dataset"]["split"] == "validation"
        assert entry["dataset"]["name"] == f"PAN-X.{lang} validation (Swiss mix, 200 sentences)"
        assert entry["dataset"]["args"]["sentences"] == 200
        values = {metric["type"]: metric["value"] for metric in entry["metrics"]}
        assert values["f1"] == pytest.approx(f1)
        assert set(values) == {"precision", "recall", "f1"}
    eval_results = ModelCard.load(saved_card).data.eval_results
    assert len(eval_results) == 3 * len(F1)


def test_with_a_test_split_the_test_scores_lead_and_validation_follows(tmp_path):
    card = render_model_card(make_results(test=True), REPO_ID)
    path = tmp_path / "README.md"
    card.save(path)
    entries = metadata_load(path)["model-index"][0]["results"]
    assert [(e["dataset"]["split"], e["dataset"]["config"]) for e in entries] == [
        *[("test", f"PAN-X.{lang}") for lang in F1],
        *[("validation", f"PAN-X.{lang}") for lang in F1],
    ]
    assert entries[1]["dataset"]["name"] == "PAN-X.fr test (Swiss mix, 2,290 sentences)"
    assert entries[5]["dataset"]["name"] == "PAN-X.fr validation (Swiss mix, 200 sentences)"
    assert entries[1]["dataset"]["args"]["sentences"] == 2290
    test_f1 = {m["type"]: m["value"] for m in entries[0]["metrics"]}["f1"]
    assert test_f1 == pytest.approx(F1["de"] - 0.01)

    text = card.text
    assert "on the **test** split, scored once after" in text
    results_section = text.split("## Results")[1]
    test_table, validation_table = results_section.split("### Validation split")
    assert "| German (`de`) | 6,290 | 9,435 | 0.841 | 0.861 | **0.851 (0.840–0.862)** |" in (
        test_table
    )
    assert "| French (`fr`) * | 2,290 |" in test_table
    assert "| German (`de`) | 200 | 300 | 0.851 | 0.871 | **0.861 (0.850–0.872)** |" in (
        validation_table
    )
    assert "| Language | Split |" not in text
    assert "Each split is a sample of PAN-X, not the full split" in text


def test_card_says_whether_the_scored_splits_are_samples():
    capped = render_model_card(make_results(max_eval_samples=200), REPO_ID).text
    assert "cut to its first 200 sentences per\nlanguage" in capped
    full = make_results()
    full.dataset.fracs = dict.fromkeys(full.dataset.fracs, 1.0)
    assert "Each split is the full split of PAN-X." in render_model_card(full, REPO_ID).text


def test_without_a_test_split_everything_says_validation(saved_card):
    text = saved_card.read_text()
    assert not re.search(r"\btest\b", text, flags=re.IGNORECASE)
    assert "on the **validation** split, measured at the end of" in text
    assert "### Validation split" not in text
    assert "| Language | Fraction | Train | Validation | German" not in text
    assert "| Language | Fraction | Train | Validation | PER (train) |" in text


def test_every_f1_shows_its_confidence_interval():
    text = render_model_card(make_results(), REPO_ID).text
    header = table_row(text, "| Language | Sentences |")
    assert header == (
        "| Language | Sentences | Entities | Precision | Recall | F1 (95% CI) | PER F1 (95% CI) |"
        " ORG F1 (95% CI) | LOC F1 (95% CI) |"
    )
    assert table_row(text, "| German (`de`) | 200 |") == (
        "| German (`de`) | 200 | 300 | 0.851 | 0.871 | **0.861 (0.850–0.872)** |"
        " 0.861 (0.850–0.872) | 0.841 (0.830–0.852) | 0.821 (0.810–0.832) |"
    )
    assert "95% confidence interval, from a percentile bootstrap over sentences" in text
    assert format_f1(0.682, None) == "0.682"
    assert format_f1(0.682, Interval(0.671, 0.693)) == "0.682 (0.671–0.693)"


def test_truncated_sentences_are_reported_when_there_are_any():
    results = make_results(max_length=64)
    assert "lost their tail" not in render_model_card(results, REPO_ID).text
    results.metrics["fr"].truncated_sentences = 3
    results.metrics["fr"].truncated_entities = 4
    results.dataset.truncated_train_sentences = 12
    text = render_model_card(results, REPO_ID).text
    assert "Sentences longer than 64 sub-words lost their tail" in text
    assert "French 3 sentence(s), 4 entity(ies)" in text
    assert "12 of them were longer than\n64 sub-words" in text


def test_a_misc_label_set_gets_a_misc_column_and_no_panx_claims():
    results = make_results(label_names=MISC_LABELS)
    card = render_model_card(results, REPO_ID)
    text = card.text
    header = table_row(text, "| Language | Sentences |")
    assert header.endswith("| LOC F1 (95% CI) | MISC F1 (95% CI) |")
    assert table_row(text, "| German (`de`) | 200 |").endswith(" 0.801 (0.790–0.812) |")
    assert "| LOC (train) | MISC (train) |" in text
    assert "other names (MISC)" in text
    assert "one of PER, ORG, LOC, MISC" in text
    assert "no MISC class" not in text
    assert "PAN-X" not in text.split("---", 2)[2]
    assert card.data.datasets is None
    assert "pan-x" not in card.data.tags
    assert card.data.eval_results[0].dataset_name == "panx de validation (Swiss mix, 200 sentences)"


def test_widget_has_an_example_per_language(saved_card):
    widget = metadata_load(saved_card)["widget"]
    titles = [example["example_title"] for example in widget]
    assert titles == ["German", "French", "Italian", "English"]
    assert all(example["text"].strip() for example in widget)
    assert "Zürich" in widget[0]["text"]


def test_card_says_when_the_widget_is_live_and_points_to_the_space_and_pipeline():
    text = render_model_card(make_results(), REPO_ID).text
    assert "only when an Inference Provider serves the model" in text
    assert "run the\n`pipeline` above on your machine" in text
    assert "demo Space" not in text
    with_space = render_model_card(make_results(), REPO_ID, space_id=f"{REPO_ID}-demo").text
    assert f"[{REPO_ID}-demo](https://huggingface.co/spaces/{REPO_ID}-demo)" in with_space


def test_body_has_results_table_usage_and_recipe():
    text = render_model_card(make_results(), REPO_ID).text
    assert "| French (`fr`) * |" in text
    assert "Zero-shot (never seen in training): fr, it, en" in text
    assert "**persons (PER), organisations (ORG) and locations (LOC)**" in text
    assert "German, French, Italian and English sentences" in text
    assert f'pipeline("ner", model="{REPO_ID}", aggregation_strategy="simple")' in text
    assert f"accelerate launch scripts/train.py --model {REPO_ID}" in text
    assert "| German (`de`) | 0.629 | 6,290 | 6,290 | 5,366 | 5,366 | 6,186 |" in text
    assert "| learning_rate | 5e-05 |" in text
    assert "| model_name_or_path | FacebookAI/xlm-roberta-base |" in text
    assert "| batching | random batches, packed into rows |" in text
    assert "| matmul_precision | highest |" in text
    assert "no MISC class" in text
    assert "continuation piece was labelled with the word's `I-` tag" in text
    assert "| 1 | 525 | 0.2600 | 0.500 | 0.500 | 0.500 | 0.500 |" in text


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
    assert f"| model_name_or_path | local folder `{tmp_path.name}` |" in text
    explicit = card_data_from_results(results, REPO_ID, base_model="FacebookAI/xlm-roberta-base")
    assert explicit.base_model == "FacebookAI/xlm-roberta-base"


def test_card_without_repo_id_uses_the_output_folder_name():
    card = render_model_card(make_results())
    assert card.data.model_name == "xlmr-panx-ch"
    assert 'model="<your-org>/xlmr-panx-ch"' in card.text


def test_write_model_card_writes_readme_widget_outputs_and_per_language_csv(
    tiny_model_dir, tmp_path
):
    folder = Path(tmp_path / "run")
    folder.mkdir()
    for path in tiny_model_dir.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    make_results(test=True).save(folder / "results.json")
    card_path = write_model_card(folder, repo_id=REPO_ID)
    assert card_path == folder / "README.md"
    metadata = metadata_load(card_path)
    assert metadata["model-index"][0]["name"] == "xlmr-panx-ch"
    assert [example["example_title"] for example in metadata["widget"]] == [
        "German", "French", "Italian", "English"
    ]
    assert all(isinstance(example["output"], list) for example in metadata["widget"])
    text = card_path.read_text()
    assert "much smaller" in text
    assert "| Example | Entities (`aggregation_strategy=\"simple\"`) |" in text
    lines = text.splitlines()
    last_row = max(i for i, line in enumerate(lines) for example in metadata["widget"]
                   if line.startswith(f"| {example['text']} |"))
    assert lines[last_row + 1] == "", "a blank line ends the table, or the text joins it"
    for example in metadata["widget"]:
        row = next(line for line in lines if line.startswith(f"| {example['text']} |"))
        for group in example["output"]:
            assert f"{group['word']} ({group['entity_group']} {group['score']:.2f})" in row
    with (folder / PER_LANGUAGE_FILE).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["split"], row["lang"]) for row in rows] == [
        *[("validation", lang) for lang in F1],
        *[("test", lang) for lang in F1],
    ]
    assert float(rows[0]["f1"]) == pytest.approx(F1["de"])
    assert float(rows[0]["f1_low"]) == pytest.approx(F1["de"] - CI_HALF_WIDTH)
    assert [row["zero_shot"] for row in rows[:4]] == ["False", "True", "True", "True"]
    assert float(rows[1]["LOC_f1"]) == pytest.approx(F1["fr"] - 0.04)
    assert rows[5]["num_sentences"] == "2290"


def test_the_hyper_parameter_table_lists_the_card_options_of_every_section():
    from swiss_ner.config.fields import card_fields

    text = render_model_card(make_results(learning_rate=1e-3, batch_size=8, seed=7), REPO_ID).text
    table = text.split("| Hyper-parameter | Value |\n|---|---|\n")[1].split("\n\n")[0]
    rows = dict(line.strip("|").split(" | ", 1) for line in table.splitlines())
    rows = {name.strip(): value.strip(" |") for name, value in rows.items()}
    assert list(rows) == [*card_fields(TrainConfig), "batching"]
    assert (rows["learning_rate"], rows["batch_size"], rows["seed"]) == ("0.001", "8", "7")
    assert rows["train_langs"] == "de" and rows["max_steps"] == "–"


def test_write_model_card_needs_results_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.json"):
        write_model_card(tmp_path)


def test_write_model_card_refuses_an_old_results_json(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"metrics": {}}))
    with pytest.raises(ValueError, match="schema version"):
        write_model_card(tmp_path)


def test_the_template_is_a_real_file_inside_the_package_and_packaged_by_the_build():
    assert TEMPLATE_PATH.parent == ROOT / "swiss_ner" / "card"
    assert TEMPLATE_PATH.is_file() and not TEMPLATE_PATH.is_symlink()
    assert TEMPLATE_PATH.read_text(encoding="utf-8").startswith("---\n{{ card_data }}\n---")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    patterns = package_data.get("swiss_ner.card", [])
    assert any(fnmatch.fnmatch(TEMPLATE_PATH.name, pattern) for pattern in patterns), (
        "pyproject.toml must package the template, or an installed swiss-ner cannot write cards"
    )


def test_the_top_level_model_card_is_the_reference_run_rendered_by_the_packaged_template():
    card = (ROOT / "model_card.md").read_text(encoding="utf-8")
    rendered = folder_model_card(REFERENCE_RUN, widget_outputs=False).content
    assert card == rendered, (
        "model_card.md is stale: regenerate it with `python scripts/render_model_card.py`"
    )
    assert "{{" not in card and "{%" not in card
    metadata = metadata_load(ROOT / "model_card.md")
    reference_f1 = RunResults.load(REFERENCE_RUN).metrics["de"].f1
    f1 = next(
        metric["value"]
        for entry in metadata["model-index"][0]["results"]
        if entry["dataset"]["config"] == "PAN-X.de"
        for metric in entry["metrics"]
        if metric["type"] == "f1"
    )
    assert f1 == pytest.approx(reference_f1, abs=1e-4)
    assert "much smaller than" in card, "the reference run's small model is named as small"


def test_a_folder_card_without_widget_outputs_needs_no_model(tmp_path):
    make_results().save(tmp_path / "results.json")
    card = folder_model_card(tmp_path, REPO_ID, widget_outputs=False)
    assert all("output" not in example for example in card.data.widget)
    assert [example["example_title"] for example in card.data.widget] == [
        "German", "French", "Italian", "English"
    ]
    assert "| Example | Entities" not in card.text


def test_card_reports_the_measured_whole_word_share():
    results = make_results()
    for lang, share in zip(SWISS_LANGS, (0.995, 0.93, 0.91, 0.999), strict=True):
        results.metrics[lang].subword_agreement = 0.97
        results.metrics[lang].whole_word_groups = share
        results.metrics[lang].simple_groups = 250
    text = render_model_card(results, REPO_ID).text
    assert "| Language | Entity groups | Whole words |" in text
    assert "| German | 250 | 99.5% |" in text
    assert "| French | 250 | 93.0% |" in text
    assert "The other groups are fragments" in text

    for lang in SWISS_LANGS:
        results.metrics[lang].whole_word_groups = 0.995
    text = render_model_card(results, REPO_ID).text
    assert "| Italian | 250 | 99.5% |" in text
    assert "The other groups are fragments" not in text


def test_card_without_whole_word_measurements_has_no_table():
    assert "Whole words |" not in render_model_card(make_results(), REPO_ID).text
