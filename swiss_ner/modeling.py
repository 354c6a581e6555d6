"""The tagger: an XLM-RoBERTa body with a token-classification head, checkpoint-compatible with
transformers' stock ``XLMRobertaForTokenClassification`` so the Hub widget and ``pipeline("ner")``
load what we publish without our code."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoConfig,
    XLMRobertaConfig,
    XLMRobertaModel,
    XLMRobertaPreTrainedModel,
)
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.utils import can_return_tuple

from swiss_ner.constants import IGNORE_INDEX

logger = logging.getLogger(__name__)

STOCK_ARCHITECTURE = "XLMRobertaForTokenClassification"


def to_stock_config(config: XLMRobertaConfig) -> XLMRobertaConfig:
    """A plain ``XLMRobertaConfig`` naming the stock architecture, from any config we hold."""
    values = config.to_dict()
    values.pop("model_type", None)
    stock = XLMRobertaConfig.from_dict(values)
    stock.architectures = [STOCK_ARCHITECTURE]
    return stock


class XLMRobertaTokenClassification(XLMRobertaPreTrainedModel):
    """RoBERTa body (no pooler), dropout and a linear classifier over every token.

    Parameter names (``roberta.*``, ``classifier.*``) match the stock class, and ``save_pretrained``
    writes ``model_type: xlm-roberta`` / ``architectures: [XLMRobertaForTokenClassification]`` so
    a saved folder loads into the stock class with identical logits.
    """

    def __init__(self, config: XLMRobertaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = XLMRobertaModel(config, add_pooling_layer=False)
        classifier_dropout = (
            config.classifier_dropout
            if config.classifier_dropout is not None
            else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        """Logits per token; with ``labels`` also the cross-entropy over positions not -100.

        ``output_hidden_states`` / ``output_attentions`` pass through to the body.
        """
        outputs = self.roberta(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.view(-1, self.num_labels),
                labels.to(logits.device).view(-1),
                ignore_index=IGNORE_INDEX,
            )
        return TokenClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )

    def save_pretrained(self, save_directory: str | os.PathLike, *args, **kwargs) -> None:
        """Save weights, then rewrite ``config.json`` as the stock architecture."""
        super().save_pretrained(save_directory, *args, **kwargs)
        self.config.architectures = [STOCK_ARCHITECTURE]
        if kwargs.get("is_main_process", True):
            to_stock_config(self.config).save_pretrained(save_directory)


def build_model(
    model_name_or_path: str | os.PathLike, label_names: Sequence[str]
) -> XLMRobertaTokenClassification:
    """Load a checkpoint (Hub id or folder) as our tagger for ``label_names``.

    The encoder is kept. The classifier's rows are matched to ``label_names`` by name, so a
    tagger fine-tuned further on the same labels in another order keeps what it learned; labels
    the checkpoint does not know (or all of them, for a bare encoder) start fresh, and the log
    says which.
    """
    source_config = AutoConfig.from_pretrained(model_name_or_path)
    if not isinstance(source_config, XLMRobertaConfig):
        source_config = to_stock_config(source_config)
    model, loading_info = XLMRobertaTokenClassification.from_pretrained(
        model_name_or_path, config=source_config, output_loading_info=True
    )
    has_classifier = not any(
        key.startswith("classifier.") for key in loading_info.get("missing_keys", ())
    )
    known = source_config.id2label if has_classifier else {}
    relabel_classifier(model, list(label_names), {str(v): int(k) for k, v in known.items()})
    return model


def relabel_classifier(
    model: XLMRobertaTokenClassification, label_names: list[str], known_rows: dict[str, int]
) -> None:
    """Give ``model`` a classifier over ``label_names``, copying the rows of known labels."""
    old = model.classifier
    new = nn.Linear(old.in_features, len(label_names)).to(old.weight.device, old.weight.dtype)
    new.weight.data.normal_(mean=0.0, std=model.config.initializer_range)
    new.bias.data.zero_()
    kept = [name for name in label_names if name in known_rows]
    with torch.no_grad():
        for row, name in enumerate(label_names):
            if name in known_rows:
                new.weight[row] = old.weight[known_rows[name]]
                new.bias[row] = old.bias[known_rows[name]]
    fresh = [name for name in label_names if name not in known_rows]
    if fresh:
        logger.info("Classifier rows initialised fresh for %s (kept: %s)", fresh, kept or "none")
    model.classifier = new
    model.num_labels = len(label_names)
    model.config.id2label = dict(enumerate(label_names))
    model.config.label2id = {name: i for i, name in enumerate(label_names)}


class TokenizerError(ValueError):
    """A model folder without a usable tokenizer."""


# Files from which AutoTokenizer builds a real tokenizer; without any of them it silently builds
# an XLM-R tokenizer with five special pieces, and every word becomes <unk>.
TOKENIZER_FILES = (
    "tokenizer.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
)
MIN_VOCABULARY = 100


def _no_tokenizer(source: str) -> str:
    return (
        f"model folder {source} has no tokenizer files (tokenizer.json or "
        f"sentencepiece.bpe.model); save the tokenizer with tokenizer.save_pretrained({source})"
    )


def load_tokenizer(model_name_or_path: str | os.PathLike):
    """The model's fast tokenizer; refuse one that is missing or nearly empty.

    Without tokenizer files ``AutoTokenizer`` quietly builds an empty 5-piece XLM-R
    tokenizer, which turns every word into ``<unk>``: training and tagging would succeed and be
    wrong.
    """
    from transformers import AutoTokenizer

    from swiss_ner.config import is_hub_model_id

    source = str(model_name_or_path)
    folder = Path(source).expanduser()
    if not folder.is_dir() and not is_hub_model_id(source):
        raise TokenizerError(f"model folder {source} does not exist")
    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise TokenizerError(_no_tokenizer(source))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise TokenizerError(f"cannot load a tokenizer from {source}: {error}") from None
    if len(tokenizer) < MIN_VOCABULARY:
        raise TokenizerError(f"{_no_tokenizer(source)} (its tokenizer has {len(tokenizer)} pieces)")
    if not tokenizer.is_fast:
        raise TokenizerError(f"{source}: a fast (tokenizers) tokenizer is needed")
    return tokenizer
