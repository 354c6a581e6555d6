"""A small XLM-RoBERTa-architecture model built from scratch, for machines that cannot download
``xlm-roberta-base``: a SentencePiece-Unigram tokenizer trained on PAN-X text with the XLM-R
scheme, and a randomly initialised encoder with a PAN-X tagging head, saved as an ordinary model
folder that :func:`swiss_ner.modeling.build_model` and ``AutoTokenizer`` load."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, pre_tokenizers, trainers
from tokenizers.models import Unigram
from transformers import XLMRobertaConfig, XLMRobertaTokenizer, set_seed

from swiss_ner.config import SmallModelConfig
from swiss_ner.constants import LABEL_NAMES, SWISS_LANGS, WORD_PREFIX
from swiss_ner.data import read_iob2
from swiss_ner.modeling import XLMRobertaTokenClassification

logger = logging.getLogger(__name__)

# XLM-R's special tokens, in the order that gives them ids 0-4.
SPECIAL_TOKENS: list[str] = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
# XLM-R reserves two positions past the longest input (padding_idx + 1 offset).
POSITION_OFFSET = 2

def xlmr_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Whitespace split, then ``▁`` in front of every word: what ``XLMRobertaTokenizer`` does with
    ``add_prefix_space=True``, so training sees the pieces the tokenizer will produce."""
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement=WORD_PREFIX, prepend_scheme="always"),
        ]
    )


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, model_max_length: int = 512
) -> XLMRobertaTokenizer:
    """Train a Unigram vocabulary on ``texts`` and wrap it as a (fast) ``XLMRobertaTokenizer``.

    Special tokens ``<s> <pad> </s> <unk> <mask>`` get ids 0-4, sequences are ``<s> A </s>``.
    The vocabulary may come out smaller than ``vocab_size`` on a small corpus.
    """
    tokenizer = Tokenizer(Unigram())
    tokenizer.pre_tokenizer = xlmr_pre_tokenizer()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        unk_token="<unk>",
        max_piece_length=16,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    vocab = [tuple(entry) for entry in json.loads(tokenizer.to_str())["model"]["vocab"]]
    wrapped = XLMRobertaTokenizer(vocab=vocab, add_prefix_space=True)
    wrapped.model_max_length = model_max_length
    return wrapped


def panx_texts(
    data_dir: str | os.PathLike, langs: Sequence[str] = SWISS_LANGS, split: str = "train"
) -> list[str]:
    """The sentences of ``{split}-{lang}.tsv`` for every language, words joined by spaces."""
    texts: list[str] = []
    for lang in langs:
        path = Path(data_dir) / f"{split}-{lang}.tsv"
        if not path.exists():
            raise FileNotFoundError(f"{path} not found; expected PAN-X IOB2 files in {data_dir}")
        texts.extend(" ".join(tokens) for tokens in read_iob2(path, lang)["tokens"])
    return texts


def make_small_model(spec: SmallModelConfig) -> Path:
    """Train the tokenizer on PAN-X training text, initialise the model, save both to
    ``spec.output_dir`` and return it. ``spec.max_sentences_per_lang`` trims the text (tests)."""
    set_seed(spec.seed)
    output_dir = Path(spec.output_dir)
    texts: list[str] = []
    for lang in spec.langs:
        lang_texts = panx_texts(spec.data_dir, [lang])[: spec.max_sentences_per_lang]
        logger.info("Read %d %s training sentences from %s", len(lang_texts), lang,
                    spec.data_dir)
        texts.extend(lang_texts)

    logger.info("Training a Unigram tokenizer (target vocabulary %d)", spec.vocab_size)
    tokenizer = train_tokenizer(texts, spec.vocab_size,
                                spec.max_position_embeddings - POSITION_OFFSET)
    logger.info("Tokenizer vocabulary: %d pieces", len(tokenizer))

    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        id2label=dict(enumerate(LABEL_NAMES)),
        label2id={label: i for i, label in enumerate(LABEL_NAMES)},
    )
    model = XLMRobertaTokenClassification(config)
    parameters = sum(p.numel() for p in model.parameters())
    logger.info(
        "Model: hidden %d, %d layers, %d heads, intermediate %d, %.1fM parameters",
        spec.hidden_size,
        spec.num_layers,
        spec.num_heads,
        spec.intermediate_size,
        parameters / 1e6,
    )
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    logger.info("Saved the untrained model and tokenizer to %s", output_dir)
    return output_dir

