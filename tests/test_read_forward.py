"""The forward pass computed only at the read positions equals the model's own forward there."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swiss_ner.inference import NerTagger
from swiss_ner.inference.read_forward import (
    ReadPositions,
    additive_mask,
    read_logits,
    reads_selected,
)
from swiss_ner.inference.windows import batch_inputs
from tests.test_tagger import LANGS, ShapeRecorder, validation_sentences


@pytest.fixture(scope="module")
def tagger(trained_model_dir) -> NerTagger:
    return NerTagger.from_pretrained(str(trained_model_dir), device="cpu")


def batch_of(tagger: NerTagger, sentences, packed: bool):
    """The model's inputs for ``sentences`` in one batch, one row each or packed into rows."""
    windows = tagger._plan_windows(sentences)
    inputs, read_for = batch_inputs(windows, tagger.pad_id, pack=packed)
    assert (inputs["input_ids"].shape[0] < len(windows)) == packed
    return inputs, read_for


def mixed_sentences() -> list[list[str]]:
    return [s for lang in LANGS for s in validation_sentences(lang, 8)[0]]


def one_length_sentences(tagger: NerTagger) -> list[list[str]]:
    """Sentences that tokenise to one length, so the batch needs no mask at all."""
    by_length: dict[int, list[list[str]]] = {}
    for sentence in mixed_sentences() + validation_sentences("de", 200)[0]:
        [window] = tagger._plan_windows([sentence])
        by_length.setdefault(len(window.ids), []).append(sentence)
    return max(by_length.values(), key=len)[:6]


@pytest.mark.parametrize("layout", ["one length", "padded", "packed"])
def test_read_logits_equal_the_full_forward_at_the_read_positions(tagger, layout):
    sentences = one_length_sentences(tagger) if layout == "one length" else mixed_sentences()
    inputs, read_for = batch_of(tagger, sentences, packed=layout == "packed")
    assert (additive_mask(inputs["attention_mask"], torch.float32) is None) == (
        layout == "one length")
    read = ReadPositions.of(read_for)
    with torch.inference_mode():
        full = tagger.model(**inputs).logits[read.rows, read.columns]
        selected = read_logits(tagger.model, **inputs, read=read)
    assert selected.shape == full.shape == (int((read_for >= 0).sum()), len(tagger.id2label))
    torch.testing.assert_close(selected, full, atol=1e-5, rtol=1e-5)


def test_the_tagger_reads_selected_positions_and_tags_as_the_full_model(tagger):
    assert tagger.reads_selected
    full = NerTagger(tagger.model, tagger.tokenizer, device="cpu")
    full.reads_selected = False
    sentences = [s for lang in LANGS for s in validation_sentences(lang, 60)[0]]
    for (got_tags, got_scores), (want_tags, want_scores) in zip(
        tagger.predict_words(sentences), full.predict_words(sentences), strict=True
    ):
        assert got_tags == want_tags
        assert got_scores == pytest.approx(want_scores, abs=1e-5)


def test_a_quantized_model_is_read_at_selected_positions_too(tagger):
    """int8 Linear layers scale their input per call, so fewer rows give other scales: the
    logits move by quantization noise (as between two batchings already), the labels stay."""
    quantized = NerTagger(tagger.model, tagger.tokenizer, device="cpu", quantize=True)
    assert quantized.reads_selected
    inputs, read_for = batch_of(tagger, mixed_sentences(), packed=True)
    read = ReadPositions.of(read_for)
    with torch.inference_mode():
        full = quantized.model(**inputs).logits[read.rows, read.columns]
        selected = read_logits(quantized.model, **inputs, read=read)
    assert (selected - full).abs().max() < 0.25
    assert (selected.argmax(-1) == full.argmax(-1)).float().mean() >= 0.98


def test_models_it_cannot_read_run_their_own_forward(tagger):
    assert reads_selected(tagger.model)
    assert not reads_selected(ShapeRecorder(tagger.model))
    decoder = copy.deepcopy(tagger.model)
    decoder.config.is_decoder = True
    assert not reads_selected(decoder)
    recorder = ShapeRecorder(tagger.model)
    wrapped = NerTagger(recorder, tagger.tokenizer, device="cpu")
    assert not wrapped.reads_selected
    wrapped.tag("Grüezi aus Bern.")
    assert recorder.shapes, "the wrapper's own forward ran"


@settings(deadline=None)  # the first call pays torch's warm-up
@given(st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=1, max_size=6))
def test_read_positions_give_each_row_its_queries_in_order(pattern):
    read_for = torch.full((len(pattern), 5), -1)
    read_for[torch.tensor(pattern)] = 7
    read = ReadPositions.of(read_for)
    counts = [sum(row) for row in pattern]
    assert read.query_columns.shape == (len(pattern), max(max(counts), 1))
    for row, flags in enumerate(pattern):
        columns = [column for column, flag in enumerate(flags) if flag]
        assert read.query_columns[row, : len(columns)].tolist() == columns
        assert read.slots[read.rows == row].tolist() == list(range(len(columns)))


def test_the_last_layer_leaves_onednn_as_it_found_it(tagger):
    """The last layer runs without oneDNN (a kernel per shape would pile up) and restores it."""
    seen = []
    intermediate = tagger.model.roberta.encoder.layer[-1].intermediate
    handle = intermediate.register_forward_hook(
        lambda *_: seen.append(torch._C._get_mkldnn_enabled()))
    try:
        tagger.tag("Grüezi aus Bern.")
    finally:
        handle.remove()
    assert seen == [False]
    assert torch._C._get_mkldnn_enabled()


def test_taggers_on_two_threads_leave_onednn_on(tagger):
    """The process-wide switch is taken in turn, so concurrent taggers cannot leave it off."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [" ".join(s) for lang in LANGS for s in validation_sentences(lang, 20)[0]]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(tagger.tag, [texts] * 6))
    assert torch._C._get_mkldnn_enabled()
    spans = [[[(e.type, e.start, e.end) for e in row] for row in result] for result in results]
    assert all(found == spans[0] for found in spans), "threads tag alike (scores to rounding)"
