"""Our tagger class: stock-checkpoint compatibility both ways, loss masking, label-set changes
matched by name, and refusing a folder without a tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForTokenClassification,
    XLMRobertaConfig,
    XLMRobertaForTokenClassification,
)

from swiss_ner.constants import LABEL_NAMES
from swiss_ner.modeling import (
    TokenizerError,
    XLMRobertaTokenClassification,
    build_model,
    load_tokenizer,
)

TINY = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=34,
)


def tiny_config(label_names=LABEL_NAMES) -> XLMRobertaConfig:
    return XLMRobertaConfig(
        **TINY,
        id2label=dict(enumerate(label_names)),
        label2id={label: i for i, label in enumerate(label_names)},
    )


@pytest.fixture()
def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, TINY["vocab_size"], (2, 9), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = 0, 2
    attention_mask = torch.ones_like(input_ids)
    input_ids[1, 6:], attention_mask[1, 6:] = 1, 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


@pytest.fixture()
def saved_ours(tmp_path) -> tuple[XLMRobertaTokenClassification, str]:
    torch.manual_seed(0)
    model = XLMRobertaTokenClassification(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    return model, str(tmp_path)


def test_parameter_names_match_stock():
    torch.manual_seed(0)
    ours = XLMRobertaTokenClassification(tiny_config())
    stock = XLMRobertaForTokenClassification(tiny_config())
    assert set(ours.state_dict()) == set(stock.state_dict())


def test_saved_config_names_stock_architecture(saved_ours):
    _, folder = saved_ours
    saved = json.loads((Path(folder) / "config.json").read_text())
    assert saved["model_type"] == "xlm-roberta"
    assert saved["architectures"] == ["XLMRobertaForTokenClassification"]
    assert saved["id2label"]["1"] == "B-PER"


def test_stock_class_loads_ours_with_identical_logits(saved_ours, batch):
    ours, folder = saved_ours
    stock = AutoModelForTokenClassification.from_pretrained(folder).eval()
    assert type(stock) is XLMRobertaForTokenClassification
    with torch.no_grad():
        torch.testing.assert_close(stock(**batch).logits, ours(**batch).logits)


def test_our_class_loads_stock_with_identical_logits(tmp_path, batch):
    torch.manual_seed(1)
    stock = XLMRobertaForTokenClassification(tiny_config()).eval()
    stock.save_pretrained(tmp_path)
    ours = XLMRobertaTokenClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(**batch).logits, stock(**batch).logits)


def test_loss_ignores_minus_100(saved_ours, batch):
    model, _ = saved_ours
    labels = torch.randint(0, len(LABEL_NAMES), batch["input_ids"].shape)
    labels[:, 0] = -100
    labels[1, 6:] = -100
    with torch.no_grad():
        output = model(**batch, labels=labels)
    keep = labels != -100
    expected = torch.nn.functional.cross_entropy(output.logits[keep], labels[keep])
    torch.testing.assert_close(output.loss, expected)


def test_outputs_hidden_states_and_tuple(saved_ours, batch):
    model, _ = saved_ours
    with torch.no_grad():
        output = model(**batch, output_hidden_states=True)
        as_tuple = model(**batch, return_dict=False)
    assert len(output.hidden_states) == TINY["num_hidden_layers"] + 1
    assert output.logits.shape == (2, 9, len(LABEL_NAMES))
    assert isinstance(as_tuple, tuple)


def test_build_model_other_labels_keeps_encoder(saved_ours):
    original, folder = saved_ours
    labels = ["O", "B-X", "I-X"]
    model = build_model(folder, labels)
    assert isinstance(model, XLMRobertaTokenClassification)
    assert model.config.id2label == dict(enumerate(labels))
    assert model.config.label2id == {label: i for i, label in enumerate(labels)}
    assert model.classifier.weight.shape == (len(labels), TINY["hidden_size"])
    original_state = original.state_dict()
    for name, tensor in model.state_dict().items():
        if name.startswith("roberta."):
            torch.testing.assert_close(tensor, original_state[name], msg=name)


def test_build_model_same_labels_loads_classifier(saved_ours):
    original, folder = saved_ours
    model = build_model(folder, LABEL_NAMES)
    torch.testing.assert_close(model.classifier.weight, original.classifier.weight)


def test_stock_mapping_untouched_after_import():
    config = XLMRobertaConfig(**TINY, num_labels=3)
    assert type(AutoModelForTokenClassification.from_config(config)) is (
        XLMRobertaForTokenClassification
    )


def test_same_labels_in_another_order_keep_their_rows_by_name(saved_ours):
    original, folder = saved_ours
    reordered = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG"]
    model = build_model(folder, reordered)
    for row, name in enumerate(reordered):
        torch.testing.assert_close(
            model.classifier.weight[row], original.classifier.weight[LABEL_NAMES.index(name)]
        )
        torch.testing.assert_close(
            model.classifier.bias[row], original.classifier.bias[LABEL_NAMES.index(name)]
        )
    assert model.config.label2id["B-LOC"] == 1


def test_a_new_label_starts_fresh_and_known_ones_are_kept(saved_ours, caplog):
    original, folder = saved_ours
    labels = [*LABEL_NAMES, "B-MISC", "I-MISC"]
    with caplog.at_level("INFO", logger="swiss_ner.modeling"):
        model = build_model(folder, labels)
    torch.testing.assert_close(model.classifier.weight[:7], original.classifier.weight)
    assert model.classifier.weight.shape == (9, TINY["hidden_size"])
    assert model.num_labels == 9
    assert "B-MISC" in caplog.text and "fresh" in caplog.text


def test_folder_without_tokenizer_is_refused(saved_ours):
    _, folder = saved_ours
    with pytest.raises(TokenizerError, match="has no tokenizer files"):
        load_tokenizer(folder)
