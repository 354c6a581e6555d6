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
    AutoModelForTokenClassification,
    XLMRobertaConfig,
    XLMRobertaModel,
    XLMRobertaPreTrainedModel,
)
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.utils import can_return_tuple

logger = logging.getLogger(__name__)

STOCK_MODEL_TYPE = "xlm-roberta"
STOCK_ARCHITECTURE = "XLMRobertaForTokenClassification"
SWISS_NER_MODEL_TYPE = "swiss-ner-xlm-roberta"
IGNORE_INDEX = -100


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

    def save_pretrained(
        self, save_directory: str | os.PathLike, *args, push_to_hub: bool = False, **kwargs
    ) -> None:
        """Save weights, then rewrite ``config.json`` as the stock architecture.

        ``push_to_hub=True`` uploads through :meth:`push_to_hub`, which saves through this method,
        so the Hub copy carries the stock config too.
        """
        hub_keys = (
            "repo_id",
            "commit_message",
            "commit_description",
            "create_pr",
            "private",
            "revision",
        )
        hub_kwargs = {key: kwargs.pop(key) for key in hub_keys if key in kwargs}
        super().save_pretrained(save_directory, *args, push_to_hub=False, **kwargs)
        self.config.architectures = [STOCK_ARCHITECTURE]
        if kwargs.get("is_main_process", True):
            to_stock_config(self.config).save_pretrained(save_directory)
        if push_to_hub:
            repo_id = hub_kwargs.pop("repo_id", Path(save_directory).name)
            if "token" in kwargs:
                hub_kwargs["token"] = kwargs["token"]
            self.push_to_hub(repo_id, **hub_kwargs)


class SwissNerXLMRobertaConfig(XLMRobertaConfig):
    """An XLM-R config under its own ``model_type``, so the Auto classes can map it to our class
    without touching the stock ``xlm-roberta`` mapping."""

    model_type = SWISS_NER_MODEL_TYPE


class SwissNerXLMRobertaForTokenClassification(XLMRobertaTokenClassification):
    """Our tagger as the Auto classes build it from a :class:`SwissNerXLMRobertaConfig`."""

    config_class = SwissNerXLMRobertaConfig


AutoConfig.register(SWISS_NER_MODEL_TYPE, SwissNerXLMRobertaConfig, exist_ok=True)
AutoModelForTokenClassification.register(
    SwissNerXLMRobertaConfig, SwissNerXLMRobertaForTokenClassification, exist_ok=True
)


def build_model(
    model_name_or_path: str | os.PathLike,
    label_names: Sequence[str],
    ignore_mismatched_sizes: bool = True,
    **config_kwargs,
) -> XLMRobertaTokenClassification:
    """Load a checkpoint (Hub id or folder) as our tagger for ``label_names``.

    The encoder is kept; a classifier of another shape (or none, for a bare encoder) is
    re-initialised, and the re-initialised weights are logged.
    """
    label_names = list(label_names)
    config = AutoConfig.from_pretrained(
        model_name_or_path,
        id2label=dict(enumerate(label_names)),
        label2id={label: i for i, label in enumerate(label_names)},
        **config_kwargs,
    )
    if not isinstance(config, XLMRobertaConfig):
        config = to_stock_config(config)
    model, loading_info = XLMRobertaTokenClassification.from_pretrained(
        model_name_or_path,
        config=config,
        ignore_mismatched_sizes=ignore_mismatched_sizes,
        output_loading_info=True,
    )
    reinitialised = sorted({*loading_info.get("missing_keys", ()), *mismatched_names(loading_info)})
    if reinitialised:
        logger.info(
            "Newly initialised weights (not in %s or of another shape): %s",
            model_name_or_path,
            ", ".join(reinitialised),
        )
    return model


def mismatched_names(loading_info: dict) -> list[str]:
    """Parameter names from ``mismatched_keys``, which holds names or (name, old, new) tuples."""
    names = []
    for entry in loading_info.get("mismatched_keys", ()):
        names.append(entry[0] if isinstance(entry, (tuple, list)) else entry)
    return names
