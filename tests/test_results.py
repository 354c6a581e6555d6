"""The typed run record behind results.json: round trip, older records, refused files."""

import json

import pytest
from test_model_card import make_results

from swiss_ner.results import SCHEMA_VERSION, Batching, RunResults


def test_results_round_trip_through_json(tmp_path):
    results = make_results(test=True)
    results.save(tmp_path / "results.json")
    loaded = RunResults.load(tmp_path)
    assert loaded == results
    assert isinstance(loaded.batching, Batching)
    assert loaded.headline_split == "test"
    assert loaded.zero_shot_langs == ["fr", "it", "en"]


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
    with pytest.raises(ValueError, match=rf"{path}.*schema version 1 is not {SCHEMA_VERSION}"):
        RunResults.load(path)


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
