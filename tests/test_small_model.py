"""The from-scratch small model: XLM-R tokenizer scheme and a folder our training code loads."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, XLMRobertaTokenizer

from swiss_ner.data import LABEL_NAMES
from swiss_ner.modeling import XLMRobertaTokenClassification, build_model
from swiss_ner.small_model import SPECIAL_TOKENS, panx_texts, train_tokenizer


@pytest.fixture(scope="module")
def tiny_tokenizer(panx_dir) -> XLMRobertaTokenizer:
    texts = panx_texts(panx_dir, ["de"])[:300] + panx_texts(panx_dir, ["fr"])[:300]
    return train_tokenizer(texts, vocab_size=1000)


def test_special_token_ids(tiny_tokenizer):
    assert tiny_tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2, 3, 4]
    assert (tiny_tokenizer.bos_token_id, tiny_tokenizer.pad_token_id) == (0, 1)
    assert (tiny_tokenizer.eos_token_id, tiny_tokenizer.unk_token_id) == (2, 3)
    assert tiny_tokenizer.mask_token_id == 4
    assert len(tiny_tokenizer) <= 1000


def test_word_prefix_and_template(tiny_tokenizer):
    encoded = tiny_tokenizer("Berlin und Zürich")
    tokens = tiny_tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens[0] == "<s>" and tokens[-1] == "</s>"
    assert tokens[1].startswith("▁")
    assert tiny_tokenizer.is_fast


def test_split_words_and_offsets(tiny_tokenizer):
    words = ["Angela", "Merkel", "besucht", "Zürich"]
    encoded = tiny_tokenizer(words, is_split_into_words=True)
    word_ids = encoded.word_ids()
    assert word_ids[0] is None and word_ids[-1] is None
    assert sorted({w for w in word_ids if w is not None}) == [0, 1, 2, 3]
    pieces = tiny_tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    for position, word_id in enumerate(word_ids):
        if word_id is not None and word_id != word_ids[position - 1]:
            assert pieces[position].startswith("▁")
    text = " ".join(words)
    encoded_text = tiny_tokenizer(text, return_offsets_mapping=True)
    offsets = encoded_text["offset_mapping"]
    first_word = [i for i, word in enumerate(encoded_text.word_ids()) if word == 0]
    first_word_end = offsets[first_word[-1]][1]
    assert offsets[first_word[0]][0] == 0
    assert text[:first_word_end] == "Angela"


def test_small_model_folder_loads(small_model_dir):
    saved = json.loads((small_model_dir / "config.json").read_text())
    assert saved["model_type"] == "xlm-roberta"
    assert saved["architectures"] == ["XLMRobertaForTokenClassification"]
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    assert isinstance(tokenizer, XLMRobertaTokenizer)
    assert saved["vocab_size"] == len(tokenizer)
    assert tokenizer.model_max_length == saved["max_position_embeddings"] - 2

    model = build_model(small_model_dir, LABEL_NAMES)
    assert isinstance(model, XLMRobertaTokenClassification)
    assert model.config.id2label == dict(enumerate(LABEL_NAMES))
    stock = AutoModelForTokenClassification.from_pretrained(small_model_dir)
    batch = tokenizer([["Die", "Stadt", "Bern"]], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(**batch).logits, stock.eval()(**batch).logits)
