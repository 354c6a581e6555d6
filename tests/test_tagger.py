"""Tagging raw text with NerTagger: IOB2 decoding, offsets, long texts, sentences, batching,
quantisation, input checks and model-folder checks."""

from __future__ import annotations

import logging
import shutil
import string
import unicodedata
from pathlib import Path

import pytest
import torch
from conftest import PANX_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swiss_ner.data import read_iob2
from swiss_ner.inference import (
    Entity,
    ModelLoadError,
    NerTagger,
    decode_entities,
    decode_iob2,
    split_sentences,
    split_words,
)
from swiss_ner.modeling import TokenizerError, load_tokenizer

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
    assert entity.type == "ORG"
    assert entity.score == pytest.approx(0.7)
    assert (entity.word_start, entity.word_end) == (3, 5)
    assert decode_entities(words, tags, scores)[0].text == "Credit  Suisse"
    [shifted] = decode_entities(words, tags, scores, text, first_word=10)
    assert (shifted.word_start, shifted.word_end, shifted.start) == (13, 15, entity.start)
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


# --- sentences, Unicode, batching ----------------------------------------------------------------


def entity_keys(entities, shift: int = 0) -> list[tuple[str, str, int, int]]:
    return [(e.text, e.type, e.start + shift, e.end + shift) for e in entities]


def paragraphs(lang: str, size: int = 5, count: int = 4) -> list[list[str]]:
    """Runs of ``size`` validation sentences (raw text) that end like sentences and start with a
    capital, each of them a single sentence for the splitter."""
    sentences, _ = validation_sentences(lang, 400)
    texts = [" ".join(tokens) for tokens in sentences]
    usable = [
        text
        for text in texts
        if text[-1] in ".!?"
        and text[0].isupper()
        and len(split_sentences(text, split_words(text))) == 1
    ]
    return [usable[i : i + size] for i in range(0, size * count, size)]


def test_a_paragraph_gives_the_entities_of_its_sentences(tagger):
    """Five validation sentences joined into one raw text: the same entities, shifted, as when
    each sentence is tagged on its own."""
    found = 0
    for lang in LANGS:
        for sentences in paragraphs(lang):
            paragraph = " ".join(sentences)
            [together] = tagger.tag(paragraph)
            one_by_one, shift = [], 0
            for sentence, entities in zip(sentences, tagger.tag(sentences), strict=True):
                one_by_one += entity_keys(entities, shift)
                shift += len(sentence) + 1
            assert entity_keys(together) == one_by_one, (lang, paragraph)
            found += len(one_by_one)
    assert found, "the tiny trained model should find entities in 80 sentences"


def test_a_decomposed_or_hyphenated_word_is_read_in_its_nfc_form(tagger):
    forced = ForcedLabels(tagger.model, tagger.tokenizer, {"Zürich": "B-LOC", "Merkel": "B-PER"})
    forced_tagger = NerTagger(forced, tagger.tokenizer, device="cpu")
    text = "\ufeffFrau Mer\u00adkel kam nach " + unicodedata.normalize("NFD", "Zürich.")
    [[person, place]] = forced_tagger.tag(text)
    assert (person.text, person.type, person.start) == ("Mer\u00adkel", "PER", 6)
    assert (place.text, place.type) == ("Zu\u0308rich", "LOC")
    assert text[place.start : place.end] == place.text and text[place.end :] == "."


def one_sentence_at_a_time(tagger, sentences):
    """The stock model on one unpadded sentence at a time: each word's best label and its
    probability, read at the first piece."""
    reference = []
    with torch.inference_mode():
        for words in sentences:
            encoding = tagger.tokenizer(words, is_split_into_words=True, return_tensors="pt")
            logits = tagger.model(
                input_ids=encoding["input_ids"], attention_mask=encoding["attention_mask"]
            ).logits[0]
            first_pieces = {}
            for position, word in enumerate(encoding.word_ids()):
                if word is not None and word not in first_pieces:
                    first_pieces[word] = position
            best = logits[list(first_pieces.values())].softmax(-1).max(-1)
            reference.append(([tagger.id2label[i] for i in best.indices.tolist()], best.values))
    return reference


def assert_matches_one_at_a_time(predicted, reference):
    """Word tags agree on 99.9% (float noise can flip a near-tie); scores within 1e-4."""
    same = total = 0
    for (tags, scores), (labels, best) in zip(predicted, reference, strict=True):
        same += sum(a == b for a, b in zip(tags, labels, strict=True))
        total += len(tags)
        assert scores == pytest.approx(best.tolist(), abs=1e-4)
    assert same / total >= 0.999


def test_batched_tagging_matches_one_sentence_at_a_time(tagger):
    """Sorting, padding and the token budget change no word's tag; scores stay within float
    noise."""
    sentences = [s for lang in LANGS for s in validation_sentences(lang, 100)[0]]
    assert_matches_one_at_a_time(
        tagger.predict_words(sentences), one_sentence_at_a_time(tagger, sentences)
    )


def test_windows_of_mixed_lengths_are_packed_and_read_as_alone(tagger):
    """One batch of sentences from 1 to many pieces (a server's requests) is packed into fewer
    rows, each sentence attending only to itself, and reads as each sentence alone."""
    sentences = [s for lang in LANGS for s in validation_sentences(lang, 16)[0]]
    recorder = ShapeRecorder(tagger.model)
    packing = NerTagger(recorder, tagger.tokenizer, device="cpu", batch_size=len(sentences),
                        max_batch_tokens=10**6)
    predicted = packing.predict_words(sentences)
    [(rows, _)] = recorder.shapes
    assert rows < len(sentences)
    assert_matches_one_at_a_time(predicted, one_sentence_at_a_time(tagger, sentences))


class ShapeRecorder(torch.nn.Module):
    """The model, recording the shape of every batch it is given."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.shapes: list[tuple[int, int]] = []

    def forward(self, input_ids, **inputs):
        self.shapes.append(tuple(input_ids.shape))
        return self.model(input_ids=input_ids, **inputs)


def test_batches_respect_the_window_and_token_budgets(tagger):
    sentences, _ = validation_sentences("it", 300)
    recorder = ShapeRecorder(tagger.model)
    budgeted = NerTagger(
        recorder, tagger.tokenizer, device="cpu", batch_size=16, max_batch_tokens=400
    )
    budgeted.predict_words(sentences)
    assert sum(rows for rows, _ in recorder.shapes) <= len(sentences)
    assert all(rows <= 16 and rows * width <= 400 for rows, width in recorder.shapes)
    widths = [width for _, width in recorder.shapes]
    assert widths == sorted(widths), "windows are read shortest first"
    assert max(widths) <= tagger.max_length
    default = NerTagger(tagger.model, tagger.tokenizer, device="cpu")
    assert (default.batch_size, default.max_batch_tokens) == (32, 8192)


def test_quantized_tagger_mostly_agrees(model_dir, tagger):
    quantized = NerTagger.from_pretrained(str(model_dir), device="cpu", quantize=True)
    assert quantized.quantized and not tagger.quantized
    assert any(
        isinstance(module, torch.ao.nn.quantized.dynamic.Linear)
        for module in quantized.model.modules()
    )
    assert not any(
        isinstance(module, torch.ao.nn.quantized.dynamic.Linear)
        for module in tagger.model.modules()
    ), "quantising a tagger must leave the model it was given alone"
    sentences = [s for lang in LANGS for s in validation_sentences(lang, 50)[0]]
    plain = [tag for tags, _ in tagger.predict_words(sentences) for tag in tags]
    int8 = [tag for tags, _ in quantized.predict_words(sentences) for tag in tags]
    assert sum(a == b for a, b in zip(plain, int8, strict=True)) / len(plain) >= 0.95
    with pytest.raises(ValueError, match="CPU only"):
        NerTagger(tagger.model, tagger.tokenizer, device="meta", quantize=True)


def test_bfloat16_tagger_mostly_agrees_and_leaves_the_model_alone(model_dir, tagger):
    loaded = NerTagger.from_pretrained(str(model_dir), device="cpu", dtype="bfloat16")
    assert next(loaded.model.parameters()).dtype == torch.bfloat16
    half = NerTagger(tagger.model, tagger.tokenizer, device="cpu", dtype="bfloat16")
    assert half.dtype == "bfloat16" and next(half.model.parameters()).dtype == torch.bfloat16
    assert next(tagger.model.parameters()).dtype == torch.float32
    sentences = [s for lang in LANGS for s in validation_sentences(lang, 50)[0]]
    plain = [tag for tags, _ in tagger.predict_words(sentences) for tag in tags]
    tags, scores = zip(*half.predict_words(sentences), strict=True)
    assert all(0.0 <= score <= 1.0 for row in scores for score in row)
    bf16 = [tag for row in tags for tag in row]
    assert sum(a == b for a, b in zip(plain, bf16, strict=True)) / len(plain) >= 0.95
    text = "Roger Federer wohnt in Basel."
    assert all(text[e.start:e.end] == e.text for e in half.tag(text)[0])


@pytest.mark.parametrize(
    ("options", "message"),
    [({"dtype": "float16"}, "dtype must be one of float32, bfloat16"),
     ({"dtype": "bfloat16", "quantize": True}, "does not combine with int8"),
     ({"compile": True, "quantize": True}, "does not combine with int8")],
)
def test_unknown_or_conflicting_dtype_or_compile_is_refused(tagger, options, message):
    with pytest.raises(ValueError, match=message):
        NerTagger(tagger.model, tagger.tokenizer, device="cpu", **options)


def test_compiled_tagger_tags_as_the_eager_one(tagger):
    """torch.compile (one graph: several windows of one length) changes no tag; scores agree
    to float rounding."""
    sentences = [["Grüezi", "aus", "Bern", "."], ["Ciao", "da", "Lugano", "."]]
    compiled = NerTagger(tagger.model, tagger.tokenizer, device="cpu", compile=True)
    assert compiled.compiled and not tagger.compiled
    assert compiled.model is not tagger.model
    eager = tagger.predict_words(sentences)
    for (got_tags, got_scores), (want_tags, want_scores) in zip(
        compiled.predict_words(sentences), eager, strict=True
    ):
        assert got_tags == want_tags
        assert got_scores == pytest.approx(want_scores, abs=1e-5)


class FailingModel(torch.nn.Module):
    """A model whose forward pass fails, as a graph torch.compile cannot build would."""

    def __init__(self, config):
        super().__init__()
        self.config = config

    def forward(self, **inputs):
        raise RuntimeError("C++ compile error: g++ not found\nmore detail")


def test_warm_up_names_a_compile_failure_in_one_line(tagger):
    failing = NerTagger(FailingModel(tagger.model.config), tagger.tokenizer, device="cpu")
    failing.compiled = True
    with pytest.raises(ModelLoadError, match=r"^torch.compile could not compile the model "
                       r"\(RuntimeError: C\+\+ compile error: g\+\+ not found\); run without "
                       r"--compile$"):
        failing.warm_up()


# --- input checks, warnings, model folders -------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (None, "texts is None, expected a str or an iterable of str"),
        (123, "texts is int, expected a str or an iterable of str"),
        (b"Bern", "texts is bytes"),
        (["ok", None], r"texts\[1\] is None, expected str"),
        (("ok", "gut", 3.5), r"texts\[2\] is float, expected str"),
    ],
)
def test_tag_names_the_item_that_is_not_text(tagger, texts, message):
    with pytest.raises(TypeError, match=message):
        tagger.tag(texts)


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_long_documents_raise_no_tokenizer_length_warning(model_dir):
    fresh = NerTagger.from_pretrained(str(model_dir), device="cpu")
    sentences, _ = validation_sentences("de", 60)
    one_long_sentence = [word for tokens in sentences for word in tokens]
    records = Records()
    logger = logging.getLogger("transformers")
    logger.addHandler(records)
    try:
        fresh.tag(" ".join(one_long_sentence))
        fresh.predict_words([one_long_sentence])
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if "sequence length is longer" in m], records.messages


def test_a_model_folder_without_tokenizer_files_is_refused(model_dir, tmp_path):
    from transformers import AutoTokenizer

    for name in ("config.json", "model.safetensors"):
        shutil.copy(model_dir / name, tmp_path / name)
    with pytest.raises(ModelLoadError, match="has no tokenizer files") as error:
        NerTagger.from_pretrained(str(tmp_path))
    assert f"tokenizer.save_pretrained({tmp_path})" in str(error.value)
    assert len(AutoTokenizer.from_pretrained(str(tmp_path))) < 10, "AutoTokenizer's stand-in"
    with pytest.raises(TokenizerError, match="has no tokenizer files"):
        load_tokenizer(tmp_path)
    assert len(load_tokenizer(model_dir)) > 100


# --- properties ----------------------------------------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(max_size=120)
    | st.lists(st.sampled_from(MULTILINGUAL + ["\n\n", "\ufeff"])).map("".join)
)
def test_entities_slice_any_text(tagger, text):
    [entities] = tagger.tag(text)
    words = split_words(text)
    position = 0
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
        assert position <= entity.start < entity.end
        assert (entity.start, entity.end) == (
            words[entity.word_start][1],
            words[entity.word_end - 1][2],
        )
        assert 0.0 < entity.score <= 1.0
        position = entity.end
