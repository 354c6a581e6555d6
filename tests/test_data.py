from pathlib import Path

import pytest
from transformers import AutoTokenizer

from swiss_ner import build_swiss_corpus, count_entities, entity_table, load_panx
from swiss_ner.data import LABEL_NAMES, align_labels, concatenate_languages, tokenize_and_align


@pytest.fixture(scope="module")
def corpus(panx_dir):
    return build_swiss_corpus(data_dir=panx_dir)


def test_swiss_subset_matches_hub_figures(corpus):
    assert {lang: ds["train"].num_rows for lang, ds in corpus.items()} == {
        "de": 12580,
        "fr": 4580,
        "it": 1680,
        "en": 1180,
    }
    assert corpus["de"]["train"][0]["tokens"][:4] == ["Olympique", "Nîmes", ",", "Auxerres"]
    assert count_entities(corpus["de"]["train"]) == {"PER": 5881, "ORG": 5397, "LOC": 6169}


def test_schema_equals_the_hub_configs(corpus):
    features = corpus["de"]["train"].features
    assert set(features) == {"tokens", "ner_tags", "langs"}
    assert features["ner_tags"].feature.names == LABEL_NAMES
    assert set(corpus["fr"]["validation"][0]["langs"]) == {"fr"}


def test_entity_table_has_a_row_per_language_and_split(corpus):
    table = entity_table(corpus)
    assert table.loc[("de", "train"), "LOC"] == 6169
    assert len(table) == 8
    assert list(table.columns) == ["sentences", "PER", "ORG", "LOC"]


def test_local_files_of_any_split_are_read(tmp_path: Path):
    (tmp_path / "test-xx.tsv").write_text("Zürich\tB-LOC\nist\tO\n\nAnna\tB-PER\n")
    dataset = load_panx("xx", tmp_path)
    assert list(dataset) == ["test"]
    assert dataset["test"]["tokens"] == [["Zürich", "ist"], ["Anna"]]
    assert dataset["test"]["ner_tags"] == [[5, 0], [1]]


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        ("Bern\tB-LOC\nkaputt\n", 2, "TOKEN<TAB>TAG"),
        ("Bern\tB-LOC\n\nGenf\tB-CITY\n", 3, "unknown tag 'B-CITY'"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path: Path, content, line, fragment):
    path = tmp_path / "train-de.tsv"
    path.write_text(content)
    with pytest.raises(ValueError) as error:
        load_panx("de", tmp_path)
    assert f"{path}:{line}:" in str(error.value)
    assert fragment in str(error.value)


def test_missing_files_are_reported(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="train-rm.tsv"):
        load_panx("rm", tmp_path)


def test_concatenation_mixes_languages(corpus):
    mixed = concatenate_languages(corpus, ["de", "fr"], "validation", seed=42)
    assert (
        mixed.num_rows == corpus["de"]["validation"].num_rows + corpus["fr"]["validation"].num_rows
    )
    first_langs = {row["langs"][0] for row in mixed.select(range(50))}
    assert first_langs == {"de", "fr"}


def test_align_labels_first_piece_and_continuations():
    word_ids = [None, 0, 0, 1, 2, 2, 2, None]
    tags = [1, 0, 3]  # B-PER, O, B-ORG
    assert align_labels(word_ids, tags) == [-100, 1, -100, 0, 3, -100, -100, -100]
    continuation = [0, 2, 2, 4, 4, 6, 6]
    assert align_labels(word_ids, tags, True, continuation) == [-100, 1, 2, 0, 3, 4, 4, -100]


def test_label_alignment_on_the_seed_sentence(corpus, small_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    sentence = corpus["de"]["train"].select(range(1))
    encoded = tokenize_and_align(sentence, tokenizer, max_length=128)[0]
    word_ids = tokenizer(sentence[0]["tokens"], is_split_into_words=True).word_ids()
    tags = sentence[0]["ner_tags"]
    assert encoded["input_ids"][0] == tokenizer.cls_token_id
    assert encoded["input_ids"][-1] == tokenizer.sep_token_id
    previous = None
    for label, word_id in zip(encoded["labels"], word_ids, strict=True):
        if word_id is None or word_id == previous:
            assert label == -100
        else:
            assert label == tags[word_id]
        previous = word_id
    assert sum(label != -100 for label in encoded["labels"]) == len(tags)
    assert len(encoded["input_ids"]) > len(tags) + 2, "the sentence should split into sub-words"

    all_pieces = tokenize_and_align(sentence, tokenizer, 128, label_all_tokens=True)[0]["labels"]
    names = [LABEL_NAMES[i] if i >= 0 else None for i in all_pieces]
    previous = None
    for name, word_id in zip(names, word_ids, strict=True):
        if word_id is None:
            assert name is None
        elif word_id == previous:
            assert not name.startswith("B-")
        previous = word_id


def test_truncation_respects_max_length(corpus, small_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    encoded = tokenize_and_align(corpus["de"]["train"].select(range(50)), tokenizer, max_length=8)
    assert max(len(ids) for ids in encoded["input_ids"]) == 8
