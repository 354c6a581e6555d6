"""Raw text to words and sentences: PAN-X-style splitting, offsets, Unicode, sentence ends."""

from __future__ import annotations

import unicodedata

import pytest
from conftest import PANX_DIR
from hypothesis import given, settings
from hypothesis import strategies as st

from swiss_ner.data import read_iob2
from swiss_ner.inference import model_words, split_sentences, split_words

LANGS = ("de", "fr", "it", "en")


def validation_sentences(lang: str, limit: int) -> list[list[str]]:
    return read_iob2(PANX_DIR / f"validation-{lang}.tsv", lang)["tokens"][:limit]


def words_of(text: str) -> list[str]:
    return [word for word, _, _ in split_words(text)]


def sentences_of(text: str) -> list[list[str]]:
    words = split_words(text)
    return [
        [word for word, _, _ in words[first:end]] for first, end in split_sentences(text, words)
    ]


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
    sentences = validation_sentences(lang, 1000)
    same = sum(words_of(" ".join(tokens)) == tokens for tokens in sentences)
    # Wiki markup ("]]", "**", "''Title") and glued German quotes account for most of the rest.
    assert same / len(sentences) > 0.85


# --- Unicode: decomposed accents, format characters, BOM -----------------------------------------


def test_a_decomposed_accent_stays_in_its_word():
    text = "Zu\u0308rich und Gene\u0300ve."
    assert split_words(text) == [
        ("Zu\u0308rich", 0, 7),
        ("und", 8, 11),
        ("Gene\u0300ve", 12, 19),
        (".", 19, 20),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Angela Mer\u00adkel kam.", ["Angela", "Mer\u00adkel", "kam", "."]),
        ("Credit\u200bSuisse", ["Credit\u200bSuisse"]),
        ("Bern\u200d Basel", ["Bern\u200d", "Basel"]),
        ("Suisse\u200b.", ["Suisse\u200b", "."]),
        ("Ba\u0301\u0308sel", ["Ba\u0301\u0308sel"]),
    ],
)
def test_format_characters_and_marks_never_break_a_word(text, expected):
    assert words_of(text) == expected


def test_a_leading_bom_is_not_part_of_the_first_word():
    text = "\ufeffZürich liegt am See."
    [first, *_] = split_words(text)
    assert first == ("Zürich", 1, 7)
    assert split_words("\ufeff") == []


def test_the_model_reads_words_in_nfc_without_format_characters():
    nfd = unicodedata.normalize("NFD", "Zürich Genève")
    assert model_words(words_of(nfd)) == ["Zürich", "Genève"]
    assert model_words(["Mer\u00adkel", "Credit\u200bSuisse", "Bern"]) == [
        "Merkel",
        "CreditSuisse",
        "Bern",
    ]


def test_nfd_text_splits_into_the_words_of_its_nfc_form():
    for tokens in validation_sentences("fr", 200):
        text = " ".join(tokens)
        nfd = unicodedata.normalize("NFD", text)
        assert model_words(words_of(nfd)) == words_of(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_words_slice_the_original_text_in_order(text):
    words = split_words(text)
    position = 0
    for word, start, end in words:
        assert text[start:end] == word
        assert position <= start < end
        assert not word[0].isspace() and not word[-1].isspace()
        assert unicodedata.category(word[0]) not in {"Mn", "Mc", "Me", "Cf"}
        position = end


# --- sentences ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Die UBS sitzt in Zürich. Nestlé sitzt in Vevey!",
            [["Die", "UBS", "sitzt", "in", "Zürich", "."], ["Nestlé", "sitzt", "in", "Vevey", "!"]],
        ),
        (
            "Am 1. August sprach Dr. Meier in St. Gallen. Dann ging er.",
            [
                ["Am", "1", ".", "August", "sprach", "Dr.", "Meier", "in", "St.", "Gallen", "."],
                ["Dann", "ging", "er", "."],
            ],
        ),
        (
            "J. R. R. Tolkien lived in the U.S. for a while",
            [["J.", "R.", "R.", "Tolkien", "lived", "in", "the", "U.S.", "for", "a", "while"]],
        ),
        (
            "Er sagte: „Ja.“ Dann ging er ... und kam.",
            [
                ["Er", "sagte", ":", "„", "Ja", ".", "“"],
                ["Dann", "ging", "er", "...", "und", "kam", "."],
            ],
        ),
        (
            'He left. "Then" she came (to Bern.) And',
            [
                ["He", "left", "."],
                ['"', "Then", '"', "she", "came", "(", "to", "Bern", ".", ")"],
                ["And"],
            ],
        ),
        ("Er kam . Dann ging er . .", [["Er", "kam", "."], ["Dann", "ging", "er", ".", "."]]),
        ("Titel ohne Punkt\n\nErster Satz", [["Titel", "ohne", "Punkt"], ["Erster", "Satz"]]),
        ("eine Zeile\numgebrochen", [["eine", "Zeile", "umgebrochen"]]),
        (
            "kein Ende. klein geht es weiter",
            [["kein", "Ende", ".", "klein", "geht", "es", "weiter"]],
        ),
        ("", []),
    ],
)
def test_split_sentences_at_sentence_ends_and_blank_lines(text, expected):
    assert sentences_of(text) == expected


@pytest.mark.parametrize("lang", LANGS)
def test_panx_sentences_are_rarely_cut(lang):
    """A PAN-X sentence is one sentence: the splitter cuts fewer than 1% of them."""
    sentences = validation_sentences(lang, 2000)
    cut = sum(len(sentences_of(" ".join(tokens))) > 1 for tokens in sentences)
    assert cut / len(sentences) < 0.01


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab AB.!?\n\"'«»()1")), max_size=60))
def test_sentences_cover_every_word_once_in_order(text):
    words = split_words(text)
    sentences = split_sentences(text, words)
    assert [index for first, end in sentences for index in range(first, end)] == list(
        range(len(words))
    )
    assert all(first < end for first, end in sentences)
