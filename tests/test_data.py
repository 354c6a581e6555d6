from pathlib import Path

import pytest
import torch
from formats import panx_sample, write_panx_as
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoTokenizer, DataCollatorForTokenClassification

from swiss_ner import build_swiss_corpus, count_entities, entity_table, load_panx
from swiss_ner.data import (
    LABEL_NAMES,
    LengthGroupedBatchSampler,
    PackingCollator,
    align_labels,
    concatenate_languages,
    read_iob2,
    tokenize_and_align,
    truncation_counts,
)
from swiss_ner.modeling import build_model


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
    assert features["ner_tags"].feature.names == list(LABEL_NAMES)
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


def test_bom_is_dropped_and_latin1_is_named_by_file_and_line(tmp_path: Path):
    good = tmp_path / "train-de.tsv"
    good.write_bytes("\ufeffZürich\tB-LOC\n\n".encode())
    assert read_iob2(good, "de")["tokens"] == [["Zürich"]]
    bad = tmp_path / "validation-de.tsv"
    bad.write_bytes("Bern\tB-LOC\n\nZ\xfcrich\tB-LOC\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"validation-de.tsv:3: not valid UTF-8 \(byte 0xfc"):
        read_iob2(bad, "de")


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_files_are_refused_by_name(tmp_path: Path, content):
    path = tmp_path / "train-de.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match="train-de.tsv: no sentences"):
        read_iob2(path, "de")


def test_a_fraction_that_keeps_nothing_is_refused(panx_dir):
    with pytest.raises(ValueError, match="keeps no sentence"):
        build_swiss_corpus(["en"], [1e-6], data_dir=panx_dir)


def test_truncated_sentences_and_their_entities_are_counted(corpus, small_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    sentences = corpus["de"]["validation"].select(range(200))
    full = tokenize_and_align(sentences, tokenizer, max_length=512)
    assert truncation_counts(full) == (0, 0)
    cut = tokenize_and_align(sentences, tokenizer, max_length=8)
    sentences_cut, entities_cut = truncation_counts(cut)
    assert 0 < sentences_cut <= 200 and entities_cut > 0
    names = sentences.features["ner_tags"].feature.names
    kept = sum(1 for labels in cut["labels"] for label in labels
               if label >= 0 and names[label].startswith("B-"))
    total = sum(1 for tags in sentences["ner_tags"] for tag in tags if names[tag].startswith("B-"))
    assert kept + entities_cut == total


def padding_share(batches, lengths) -> float:
    padded = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    return 1 - sum(lengths) / padded


def test_length_grouped_batches_cover_every_sentence_once_and_pad_little():
    rng = torch.Generator().manual_seed(0)
    lengths = (torch.randint(5, 60, (1000,), generator=rng)).tolist()
    sampler = LengthGroupedBatchSampler(lengths, batch_size=24, seed=42, mega_batches=8)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 42
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    random_batches = [list(range(i, min(i + 24, 1000))) for i in range(0, 1000, 24)]
    assert padding_share(batches, lengths) < padding_share(random_batches, lengths) / 3
    assert list(sampler) == batches, "the same epoch gives the same batches"
    sampler.set_epoch(1)
    assert list(sampler) != batches, "each epoch reshuffles"
    other = LengthGroupedBatchSampler(lengths, batch_size=24, seed=42, mega_batches=8)
    other.set_epoch(1)
    assert list(other) == list(sampler), "the order depends only on seed and epoch"


@given(st.lists(st.integers(1, 80), min_size=1, max_size=40), st.sampled_from([1, 8, 32]))
def test_packing_places_every_sentence_once_within_its_row(lengths, multiple):
    rows, width = PackingCollator(pad_token_id=1, pad_to_multiple_of=multiple).rows(lengths)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert width % multiple == 0 and width >= max(lengths)
    assert all(sum(lengths[i] for i in row) <= width for row in rows)
    assert len(rows) <= len(lengths)
    # First fit: no two rows could have been merged.
    used = sorted(sum(lengths[i] for i in row) for row in rows)
    assert len(used) < 2 or used[0] + used[1] > width


def test_packed_batch_gives_each_sentence_its_padded_logits_and_loss(corpus, small_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    encoded = tokenize_and_align(corpus["de"]["train"].select(range(24)), tokenizer, 512)
    features = [encoded.remove_columns("cut_entities")[i] for i in range(24)]
    model = build_model(str(small_model_dir), list(LABEL_NAMES)).eval()
    padded = DataCollatorForTokenClassification(tokenizer)(features)
    collator = PackingCollator(tokenizer.pad_token_id)
    packed = collator(features)
    assert packed["input_ids"].numel() < padded["input_ids"].numel() / 2
    with torch.inference_mode():
        alone, together = model(**padded), model(**packed)
    torch.testing.assert_close(together.loss, alone.loss)
    assert torch.isfinite(together.logits).all(), "padding rows stay finite"
    rows, _ = collator.rows([len(f["input_ids"]) for f in features])
    for row, members in enumerate(rows):
        start = 0
        for index in members:
            length = len(features[index]["input_ids"])
            torch.testing.assert_close(
                together.logits[row, start : start + length], alone.logits[index, :length]
            )
            start += length


# --- tag schemes and CoNLL columns: the same PAN-X sentences in the formats users have ------


@pytest.fixture(scope="module")
def sample(panx_dir) -> dict:
    return panx_sample(panx_dir, 400)


@pytest.mark.parametrize(
    ("scheme", "conll"), [("iob1", False), ("bioes", False), ("iob2", True), ("iob1", True)]
)
def test_every_format_of_the_same_sentences_gives_the_iob2_entities(
    tmp_path, sample, scheme, conll
):
    reference = build_swiss_corpus(
        ["de"], [1.0], data_dir=write_panx_as(tmp_path / "iob2", sample, "iob2")
    )["de"]
    other = write_panx_as(tmp_path / f"{scheme}-{conll}", sample, scheme, conll)
    assert (other / "train-de.tsv").read_text() != (tmp_path / "iob2/train-de.tsv").read_text()
    corpus = build_swiss_corpus(["de"], [1.0], data_dir=other, tag_scheme=scheme)["de"]
    for split in ("train", "validation"):
        assert count_entities(corpus[split]) == count_entities(reference[split])
        assert corpus[split]["ner_tags"] == reference[split]["ner_tags"]
        assert corpus[split]["tokens"] == reference[split]["tokens"]
    assert count_entities(corpus["train"])["LOC"] > 100
    assert corpus["train"].features["ner_tags"].feature.names == list(LABEL_NAMES)


@pytest.mark.parametrize(("scheme", "line", "fragment"), [
    ("iob1", 4, "'I-LOC' follows 'O', which IOB2 does not allow"),
    ("bioes", 5, "'E-LOC' is not an IOB2 tag"),
])
def test_an_iob2_read_of_other_schemes_stops_at_the_line(
    tmp_path, sample, scheme, line, fragment
):
    folder = write_panx_as(tmp_path, sample, scheme)
    with pytest.raises(ValueError) as error:
        load_panx("de", folder)
    message = str(error.value)
    assert message.startswith(f"{folder / 'train-de.tsv'}:{line}: {fragment}")
    assert f"--tag-scheme {scheme}" in message and "\n" not in message


def test_an_i_tag_after_another_type_breaks_iob2(tmp_path):
    path = tmp_path / "train-de.tsv"
    path.write_text("Credit\tB-ORG\nSuisse\tI-LOC\n")
    with pytest.raises(ValueError, match=rf"{path}:2: 'I-LOC' follows 'B-ORG'.*--tag-scheme"):
        read_iob2(path, "de")


def test_a_bioes_label_set_is_refused_with_the_tag_scheme_hint(tmp_path, sample):
    folder = write_panx_as(tmp_path, sample, "bioes")
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-ORG", "I-ORG", "E-ORG", "S-ORG",
              "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    with pytest.raises(ValueError, match="'E-PER' is not an IOB2 label.*--tag-scheme bioes"):
        build_swiss_corpus(["de"], [1.0], data_dir=folder, label_names=labels)


def test_a_conll_2003_file_is_read_with_its_docstart_and_columns(tmp_path):
    (tmp_path / "train-en.tsv").write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP I-MISC\n"
        "call NN I-NP O\n. . O O\n\nPeter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\n\n"
        "-DOCSTART- -X- -X- O\n\nBRUSSELS NNP B-NP I-LOC\n"
    )
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    columns = read_iob2(tmp_path / "train-en.tsv", "en", labels, tag_scheme="iob1")
    assert columns["tokens"] == [["EU", "rejects", "German", "call", "."],
                                 ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert [[labels[t] for t in tags] for tags in columns["ner_tags"]] == [
        ["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"], ["B-LOC"]]
    chunks = read_iob2(tmp_path / "train-en.tsv", "en", ["O", "B-NP", "I-NP", "B-VP", "I-VP"],
                       tag_column=3)
    assert chunks["ner_tags"][0] == [1, 3, 1, 2, 0]


def test_tab_separated_tokens_keep_their_spaces(tmp_path):
    path = tmp_path / "train-de.tsv"
    path.write_text("New York\tB-LOC\nCity\tI-LOC\n\nBern\tB-LOC\textra\tO\n")
    columns = read_iob2(path, "de")
    assert columns["tokens"] == [["New York", "City"], ["Bern"]]
    assert columns["ner_tags"] == [[5, 6], [0]]


def test_a_tag_column_beyond_the_line_names_the_line(tmp_path):
    path = tmp_path / "train-de.tsv"
    path.write_text("Bern NNP B-LOC\nist VBZ\n")
    with pytest.raises(ValueError, match=rf"{path}:2: expected .* with the tag in column 3"):
        read_iob2(path, "de", tag_column=3)


def test_hub_data_takes_no_tag_scheme():
    with pytest.raises(ValueError, match="--tag-scheme .* google/xtreme"):
        load_panx("de", None, tag_scheme="iob1")
