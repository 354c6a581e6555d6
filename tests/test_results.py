"""The typed run record behind results.json: round trip, older records, refused files."""

import json
from pathlib import Path

import pytest
from test_model_card import make_results

from swiss_ner.config import TrainConfig
from swiss_ner.results import SCHEMA_VERSION, Batching, RunResults

ROOT = Path(__file__).resolve().parents[1]


def test_results_round_trip_through_json(tmp_path):
    results = make_results(test=True)
    results.save(tmp_path / "results.json")
    loaded = RunResults.load(tmp_path)
    assert loaded == results
    assert isinstance(loaded.batching, Batching)
    assert loaded.headline_split == "test"
    assert loaded.zero_shot_langs == ["fr", "it", "en"]


def test_the_record_stores_its_configuration_nested_as_schema_3(tmp_path):
    results = make_results(learning_rate=1e-3, batch_size=8)
    results.save(tmp_path / "results.json")
    values = json.loads((tmp_path / "results.json").read_text())
    assert values["schema_version"] == SCHEMA_VERSION == 3
    assert values["config"]["optimisation"]["learning_rate"] == 1e-3
    assert values["config"]["batching"]["batch_size"] == 8 and "batch_size" not in values["config"]
    loaded = RunResults.load(tmp_path)
    assert isinstance(loaded.config, TrainConfig) and loaded.config == results.config


def test_a_schema_2_record_with_the_flat_configuration_still_loads(tmp_path):
    results = make_results(learning_rate=1e-3, batch_size=8)
    values = {**results.to_dict(), "schema_version": 2, "config": results.config.flat_dict()}
    assert values["config"]["batch_size"] == 8, "schema 2 kept every option at the top"
    (tmp_path / "results.json").write_text(json.dumps(values))
    loaded = RunResults.load(tmp_path)
    assert loaded == results, "each option in its section, the record in today's schema"
    assert loaded.config.batching.batch_size == 8 and loaded.schema_version == 3


def test_the_reference_run_record_is_schema_2_and_reads_into_sections():
    """docs/reference_run/results.json (behind model_card.md) was written with the flat config."""
    path = ROOT / "docs" / "reference_run" / "results.json"
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 2 and raw["config"]["learning_rate"] == 0.001
    loaded = RunResults.load(path)
    assert loaded.config.flat_dict() == raw["config"], "every option read, none lost"
    assert loaded.config.optimisation.warmup_ratio == raw["config"]["warmup_ratio"] == 0.1
    assert loaded.config.data.data_dir == "../shared/data/panx"


def test_a_schema_2_record_with_an_unknown_option_is_refused_naming_it(tmp_path):
    results = make_results()
    config = {**results.config.flat_dict(), "warp_speed": 9}
    values = {**results.to_dict(), "schema_version": 2, "config": config}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ValueError, match=rf"{path} is not a swiss-ner run record: .*warp_speed"):
        RunResults.load(path)


def test_a_record_written_before_batching_knew_its_padding_still_loads(tmp_path):
    values = make_results().to_dict()
    values["batching"] = {"group_by_length": True, "pack": False}  # as schema 2 first wrote it
    (tmp_path / "results.json").write_text(json.dumps(values))
    loaded = RunResults.load(tmp_path)
    assert loaded.batching == Batching(group_by_length=True, pack=False, pad_to=None)


def test_another_schema_is_refused_naming_it_and_the_file(tmp_path):
    values = {**make_results().to_dict(), "schema_version": 1}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ValueError, match=rf"{path}.*schema version 1 is not 2 or 3") as error:
        RunResults.load(path)
    assert "\n" not in str(error.value)


def test_a_file_that_is_not_a_record_is_named(tmp_path):
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="results.json is not a swiss-ner run record"):
        RunResults.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="train a model into that folder"):
        RunResults.load(tmp_path / "missing")


@pytest.mark.parametrize(
    ("batching", "text"),
    [
        (Batching(pack=True), "random batches, packed into rows"),
        (Batching(group_by_length=True, pad_to=8),
         "length-grouped batches, padded to multiples of 8"),
    ],
)
def test_batching_describes_itself_for_the_log_and_card(batching, text):
    assert batching.describe() == text
