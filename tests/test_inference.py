"""Raw-text tagging: PAN-X-style word splitting, IOB2 decoding, offsets, long texts."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import torch
from conftest import PANX_DIR

from swiss_ner.data import read_iob2
from swiss_ner.inference import (
    Entity,
    ModelLoadError,
    NerTagger,
    decode_entities,
    decode_iob2,
    split_words,
)

LANGS = ("de", "fr", "it", "en")


@pytest.fixture(scope="session")
def model_dir(trained_model_dir) -> Path:
    """The tiny model our training loop produced (every sub-word labelled)."""
    return trained_model_dir


@pytest.fixture(scope="session")
def tagger(model_dir) -> NerTagger:
    return NerTagger.from_pretrained(str(model_dir), device="cpu", batch_size=8)


def validation_sentences(lang: str, limit: int) -> tuple[list[list[str]], list[list[int]]]:
    columns = read_iob2(PANX_DIR / f"validation-{lang}.tsv", lang)
    return columns["tokens"][:limit], columns["ner_tags"][:limit]


# --- split_words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "traf Vertreter der Credit Suisse.",
            ["traf", "Vertreter", "der", "Credit", "Suisse", "."],
        ),
        ("Credit Suisse.", ["Credit", "Suisse", "."]),
        ("Zürich, Genève; Nîmes!", ["Zürich", ",", "Genève", ";", "Nîmes", "!"]),
        ("l'Office fédéral (OFS)", ["l'Office", "fédéral", "(", "OFS", ")"]),
        ("d'Italia e gli États-Unis", ["d'Italia", "e", "gli", "États-Unis"]),
        ('«Bern» „Basel“ "Thun"', ["«", "Bern", "»", "„", "Basel", "“", '"', "Thun", '"']),
        ("Die St. Galler Kantonalbank", ["Die", "St.", "Galler", "Kantonalbank"]),
        ("J. R. R. Tolkien in the U.S.", ["J.", "R.", "R.", "Tolkien", "in", "the", "U.S."]),
        ("Switzerland's banks don't", ["Switzerland", "'s", "banks", "do", "n't"]),
        ("Federer won 6:3 6-4 in 2010.", ["Federer", "won", "6:3", "6-4", "in", "2010", "."]),
        ("Er kam ... nicht", ["Er", "kam", "...", "nicht"]),
        ("  ", []),
    ],
)
def test_split_words_separates_punctuation_like_panx(text, expected):
    words = split_words(text)
    assert [word for word, _, _ in words] == expected
    assert all(text[start:end] == word for word, start, end in words)


def test_split_words_offsets_survive_odd_spacing():
    text = "\tUBS  und\nNestlé ,Vevey.\r\n"
    words = split_words(text)
    assert [w for w, _, _ in words] == ["UBS", "und", "Nestlé", ",", "Vevey", "."]
    assert all(text[start:end] == word for word, start, end in words)
    assert [start for _, start, _ in words] == sorted(start for _, start, _ in words)


@pytest.mark.parametrize("lang", LANGS)
def test_split_words_reproduces_most_panx_tokenisation(lang):
    sentences, _ = validation_sentences(lang, 1000)
    same = sum([w for w, _, _ in split_words(" ".join(tokens))] == tokens for tokens in sentences)
    # Wiki markup ("]]", "**", "''Title") and glued German quotes account for most of the rest.
    assert same / len(sentences) > 0.85


# --- IOB2 decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["O", "B-ORG", "I-ORG", "O"], [("ORG", 1, 3)]),
        (["B-PER", "I-PER", "B-PER"], [("PER", 0, 2), ("PER", 2, 3)]),
        (["O", "I-LOC", "I-LOC"], [("LOC", 1, 3)]),
        (["B-ORG", "I-LOC", "I-LOC"], [("ORG", 0, 1), ("LOC", 1, 3)]),
        (["I-PER", "O", "I-PER"], [("PER", 0, 1), ("PER", 2, 3)]),
        (["B-LOC", "I-LOC"], [("LOC", 0, 2)]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_decode_iob2_is_lenient_like_seqeval(tags, spans):
    assert decode_iob2(tags) == spans


def test_decode_iob2_agrees_with_seqeval_chunks():
    from seqeval.metrics.sequence_labeling import get_entities

    tags = ["O", "I-PER", "I-ORG", "B-ORG", "I-ORG", "O", "B-LOC", "I-PER", "I-PER", "B-LOC"]
    expected = [(kind, start, end + 1) for kind, start, end in get_entities(tags)]
    assert sorted(decode_iob2(tags)) == sorted(expected)


def test_decode_entities_slices_text_and_averages_scores():
    text = "traf Vertreter der  Credit  Suisse."
    words = split_words(text)
    tags = ["O", "O", "O", "B-ORG", "I-ORG", "O"]
    scores = [0.9, 0.9, 0.9, 0.8, 0.6, 0.99]
    [entity] = decode_entities(words, tags, scores, text)
    assert entity.text == "Credit  Suisse" == text[entity.start : entity.end]
    assert (entity.type, entity.entity_group) == ("ORG", "ORG")
    assert entity.score == pytest.approx(0.7)
    assert (entity.word_start, entity.word_end) == (3, 5)
    assert decode_entities(words, tags, scores)[0].text == "Credit  Suisse"
    with pytest.raises(ValueError):
        decode_entities(words, tags[:-1], scores, text)


# --- the tagger ---------------------------------------------------------------------------------


class ForcedLabels(torch.nn.Module):
    """Stands in for the model: every sub-word of a word listed in ``by_word`` gets that label."""

    def __init__(self, model, tokenizer, by_word: dict[str, str]):
        super().__init__()
        self.config = model.config
        self.tokenizer = tokenizer
        label2id = {label: i for i, label in model.config.id2label.items()}
        self.by_piece_id = {}
        for word, label in by_word.items():
            for piece in tokenizer(word, add_special_tokens=False)["input_ids"]:
                self.by_piece_id[piece] = label2id[label]

    def forward(self, input_ids, attention_mask=None):
        logits = torch.zeros(*input_ids.shape, len(self.config.id2label))
        logits[..., 0] = 1.0
        for (row, column), piece in zip(
            torch.cartesian_prod(
                torch.arange(input_ids.shape[0]), torch.arange(input_ids.shape[1])
            ).tolist(),
            input_ids.flatten().tolist(),
            strict=True,
        ):
            if piece in self.by_piece_id:
                logits[row, column, self.by_piece_id[piece]] = 5.0
        return type("Output", (), {"logits": logits})()


def test_credit_suisse_comes_without_the_period(tagger):
    forced = ForcedLabels(tagger.model, tagger.tokenizer, {"Credit": "B-ORG", "Suisse": "I-ORG"})
    forced_tagger = NerTagger(forced, tagger.tokenizer, device="cpu")
    text = "traf Vertreter der Credit Suisse."
    [[entity]] = forced_tagger.tag(text)
    assert (entity.text, entity.type) == ("Credit Suisse", "ORG")
    assert text[entity.start : entity.end] == "Credit Suisse"
    assert (entity.start, entity.end) == (19, 32)
    assert 0.9 < entity.score <= 1.0


def test_tag_accepts_a_string_or_a_list_and_empty_texts(tagger):
    single = tagger.tag("Roger Federer wohnt in Basel.")
    assert len(single) == 1
    results = tagger.tag(["", "Roger Federer wohnt in Basel.", "   "])
    assert results[0] == [] and results[2] == []
    assert results[1] == single[0]
    assert tagger.tag([]) == []


MULTILINGUAL = [
    "Die Credit Suisse und die UBS haben ihren Sitz in Zürich.",
    "Le Conseil fédéral a rencontré Alain Berset à Berne.",
    "Roger Federer ha vinto a Basilea contro Rafael Nadal.",
    "Nestlé is headquartered in Vevey, Switzerland.",
]


def test_entities_slice_the_input_text(tagger):
    results = tagger.tag(MULTILINGUAL)
    for text, entities in zip(MULTILINGUAL, results, strict=True):
        for entity in entities:
            assert isinstance(entity, Entity)
            assert entity.text == text[entity.start : entity.end]
            assert entity.type in {"PER", "ORG", "LOC"}
            assert 0.0 < entity.score <= 1.0
    assert any(results), "the tiny trained model should tag at least one entity"


def test_long_text_keeps_every_word(tagger):
    sentences, _ = validation_sentences("de", 60)
    text = " ".join(" ".join(tokens) for tokens in sentences)
    words = split_words(text)
    pieces = len(tagger.tokenizer(text)["input_ids"])
    assert pieces > 3 * tagger.max_length
    [(tags, scores)] = tagger.predict_words([[w for w, _, _ in words]])
    assert len(tags) == len(scores) == len(words)
    assert all(score > 0 for score in scores), "every word must be read from some window"
    [entities] = tagger.tag(text)
    assert entities and max(e.end for e in entities) > len(text) // 2
    for entity in entities:
        assert entity.text == text[entity.start : entity.end]


def test_small_windows_still_cover_every_word(tagger):
    sentences, _ = validation_sentences("fr", 5)
    small = NerTagger(tagger.model, tagger.tokenizer, device="cpu", max_length=12, context=4)
    for tokens in sentences:
        [(tags, scores)] = small.predict_words([tokens])
        assert len(tags) == len(tokens)
        assert all(score > 0 for score in scores)


def test_a_word_longer_than_the_model_limit_is_still_tagged(tagger):
    text = "Bern " + "x" * 2000 + " Basel"
    [(tags, scores)] = tagger.predict_words([[w for w, _, _ in split_words(text)]])
    assert len(tags) == 3 and all(score > 0 for score in scores)


TRAILING = set(string.punctuation) | set("«»„“”‘’…–—")


@pytest.mark.parametrize("lang", LANGS)
def test_entities_never_end_with_punctuation_the_data_splits_off(tagger, lang):
    """On raw text made from validation sentences, no entity swallows a punctuation token:
    an entity's last word ends with punctuation only where the data has that very word."""
    sentences, _ = validation_sentences(lang, 200)
    texts = [" ".join(tokens) for tokens in sentences]
    checked = 0
    for tokens, text, entities in zip(sentences, texts, tagger.tag(texts), strict=True):
        words = split_words(text)
        for entity in entities:
            assert entity.text == text[entity.start : entity.end]
            last_word = words[entity.word_end - 1][0]
            if len(last_word) > 1 and last_word[-1] in TRAILING:
                assert last_word in tokens, (entity, text)
            checked += 1
    assert checked


def test_from_pretrained_reports_a_missing_model(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        NerTagger.from_pretrained(str(tmp_path / "nowhere"))
    with pytest.raises(ModelLoadError, match="no config.json"):
        NerTagger.from_pretrained(str(tmp_path))
    with pytest.raises(ModelLoadError, match="could not load"):
        NerTagger.from_pretrained("swiss-ner-test/no-such-repo")


def test_gpu_when_available(model_dir):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    gpu_tagger = NerTagger.from_pretrained(str(model_dir), device="cuda")
    cpu_tagger = NerTagger.from_pretrained(str(model_dir), device="cpu")
    text = MULTILINGUAL * 3
    gpu, cpu = gpu_tagger.tag(text), cpu_tagger.tag(text)
    assert [[(e.text, e.type) for e in ents] for ents in gpu] == [
        [(e.text, e.type) for e in ents] for ents in cpu
    ]
