"""Evaluation: gathered predictions, seqeval scores, whole-word tallies, bootstrap intervals.

One generator (:func:`gathered_predictions`) runs the model over an evaluation loader and
gathers every batch across processes without duplicated sentences; training, the error
analysis and the experiments all read predictions from it. Labels mark only each word's first
sub-word, so scores count words, as seqeval does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import torch
from seqeval.metrics.sequence_labeling import get_entities

from swiss_ner.constants import IGNORE_INDEX, WORD_PREFIX, split_tag
from swiss_ner.logs import progress_bar
from swiss_ner.results import EntityScores, Interval, LanguageScores

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


class PieceKind(IntEnum):
    """What a vocabulary piece is, for word boundaries in SentencePiece (``▁``-prefixed) text."""

    SPECIAL = 0
    WORD_START = 1
    BARE_PREFIX = 2
    CONTINUATION = 3


def piece_kinds(tokenizer) -> torch.Tensor | None:
    """The :class:`PieceKind` of every vocabulary id; None for tokenizers without ``▁`` words.

    A bare ``▁`` piece starts a word whose characters all sit in the next piece; the fast
    tokenizer gives it the offset of that next character, so a group may start right after it.
    """
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    if not any(piece.startswith(WORD_PREFIX) for piece in pieces if piece):
        return None
    special = set(tokenizer.all_special_ids)
    kinds = []
    for index, piece in enumerate(pieces):
        if index in special or not piece:
            kinds.append(PieceKind.SPECIAL)
        elif piece == WORD_PREFIX:
            kinds.append(PieceKind.BARE_PREFIX)
        elif piece.startswith(WORD_PREFIX):
            kinds.append(PieceKind.WORD_START)
        else:
            kinds.append(PieceKind.CONTINUATION)
    return torch.tensor(kinds, dtype=torch.long)


def simple_groups(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entity groups as ``aggregation_strategy="simple"`` forms them: ``(first, last, type)``
    over piece positions, ``O`` groups left out (transformers' ``group_entities``)."""
    groups: list[tuple[int, int, str]] = []
    start = 0
    for position in range(1, len(tags) + 1):
        if position < len(tags):
            bi, entity = split_tag(tags[position])
            if entity == split_tag(tags[position - 1])[1] and bi != "B":
                continue
        entity = split_tag(tags[start])[1]
        if entity:
            groups.append((start, position - 1, entity))
        start = position
    return groups


def whole_word_groups(tags: Sequence[str], kinds: Sequence[int]) -> tuple[int, int]:
    """``(groups on word boundaries, all groups)`` for one sentence.

    ``tags`` and ``kinds`` (:class:`PieceKind`) cover the sentence's pieces without special
    tokens. A group is whole when its first character starts a word (its first piece starts a
    word, or follows a bare ``▁``) and the piece after its last one starts a new word.
    """
    whole = 0
    groups = simple_groups(tags)
    for first, last, _ in groups:
        starts = kinds[first] in (PieceKind.WORD_START, PieceKind.BARE_PREFIX) or (
            first > 0 and kinds[first - 1] == PieceKind.BARE_PREFIX
        )
        ends = kinds[last] != PieceKind.BARE_PREFIX and (
            last + 1 == len(kinds) or kinds[last + 1] != PieceKind.CONTINUATION
        )
        whole += starts and ends
    return whole, len(groups)


@dataclass
class GatheredBatch:
    """One evaluation batch from every process, on the CPU, padded with -100 (logits with 0)."""

    input_ids: torch.Tensor
    labels: torch.Tensor
    logits: torch.Tensor
    extra: dict[str, torch.Tensor]

    @property
    def predictions(self) -> torch.Tensor:
        return self.logits.argmax(dim=-1)


def gathered_predictions(
    model: torch.nn.Module, loader, accelerator, desc: str = "eval", extra: Sequence[str] = ()
) -> Iterator[GatheredBatch]:
    """Run ``model`` over ``loader`` and yield each batch gathered across processes.

    Sequences are padded to one length across processes before gathering, and
    ``gather_for_metrics`` drops the samples the sampler repeated to even out the shards.
    Columns named in ``extra`` (one value per sentence, e.g. a row index) are gathered too.
    The model is left in eval mode; the caller switches it back.
    """
    model.eval()
    for batch in progress_bar(loader, desc=desc, disable=not accelerator.is_local_main_process,
                              leave=False):
        with torch.inference_mode():
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
        padded = {
            "input_ids": accelerator.pad_across_processes(
                batch["input_ids"], dim=1, pad_index=IGNORE_INDEX
            ),
            "labels": accelerator.pad_across_processes(
                batch["labels"], dim=1, pad_index=IGNORE_INDEX
            ),
            "logits": accelerator.pad_across_processes(logits.float(), dim=1, pad_index=0),
            **{name: batch[name] for name in extra},
        }
        gathered = {k: v.cpu() for k, v in accelerator.gather_for_metrics(padded).items()}
        yield GatheredBatch(
            gathered.pop("input_ids"), gathered.pop("labels"), gathered.pop("logits"), gathered
        )


def word_tags(
    predictions: torch.Tensor, labels: torch.Tensor, id2label: Mapping[int, str]
) -> tuple[list[list[str]], list[list[str]]]:
    """Predicted and gold tags per sentence at the labelled positions (each word's first piece)."""
    predicted, gold = [], []
    for sentence_predictions, sentence_labels in zip(
        predictions.tolist(), labels.tolist(), strict=True
    ):
        kept = [(p, g) for p, g in zip(sentence_predictions, sentence_labels, strict=True)
                if g != IGNORE_INDEX]
        predicted.append([id2label[p] for p, _ in kept])
        gold.append([id2label[g] for _, g in kept])
    return predicted, gold


class SubwordAgreement:
    """How often a continuation piece predicts its predecessor's tag (``B-X`` read as ``I-X``)."""

    def __init__(self, continuation: torch.Tensor, continuation_map: torch.Tensor) -> None:
        self.continuation = continuation.cpu()
        self.continuation_map = continuation_map.cpu()
        self.agreeing = 0
        self.pieces = 0

    def update(self, batch: GatheredBatch) -> None:
        following = batch.input_ids[:, 1:]
        is_continuation = self.continuation[following.clamp(min=0)] & (following >= 0)
        predictions = batch.predictions
        expected = self.continuation_map[predictions[:, :-1]]
        self.agreeing += int((expected == predictions[:, 1:])[is_continuation].sum())
        self.pieces += int(is_continuation.sum())

    def result(self) -> float | None:
        return self.agreeing / self.pieces if self.pieces else None


class WholeWordTally:
    """The widget's entity groups (``simple`` aggregation) re-formed from sub-word predictions,
    counted against word boundaries."""

    def __init__(self, kinds: torch.Tensor, id2label: Mapping[int, str]) -> None:
        self.kind_of = kinds.tolist()
        self.id2label = id2label
        self.whole = 0
        self.groups = 0

    def update(self, batch: GatheredBatch) -> None:
        for ids, predictions in zip(
            batch.input_ids.tolist(), batch.predictions.tolist(), strict=True
        ):
            positions = [i for i, token in enumerate(ids) if token >= 0 and self.kind_of[token]]
            whole, groups = whole_word_groups(
                [self.id2label[predictions[i]] for i in positions],
                [self.kind_of[ids[i]] for i in positions],
            )
            self.whole += whole
            self.groups += groups

    def result(self) -> tuple[float | None, int | None]:
        return (self.whole / self.groups, self.groups) if self.groups else (None, None)


def _entity_counts(
    predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], types: Sequence[str]
) -> np.ndarray:
    """Per sentence and entity type: (true positives, predicted, gold), shape (n, types, 3)."""
    index = {entity: i for i, entity in enumerate(types)}
    counts = np.zeros((len(gold), len(types), 3), dtype=np.int64)
    for row, (pred_tags, gold_tags) in enumerate(zip(predicted, gold, strict=True)):
        pred_spans = set(get_entities(list(pred_tags)))
        gold_spans = set(get_entities(list(gold_tags)))
        for column, spans in ((1, pred_spans), (2, gold_spans)):
            for entity, _, _ in spans:
                if entity in index:
                    counts[row, index[entity], column] += 1
        for entity, _, _ in pred_spans & gold_spans:
            if entity in index:
                counts[row, index[entity], 0] += 1
    return counts


def _f1(true_positive: np.ndarray, predicted: np.ndarray, gold: np.ndarray) -> np.ndarray:
    denominator = predicted + gold
    return np.divide(2 * true_positive, denominator,
                     out=np.zeros(np.shape(denominator)), where=denominator > 0)


def bootstrap_f1(
    predicted: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    types: Sequence[str],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[Interval | None, dict[str, Interval]]:
    """95% percentile intervals of the micro F1 and of each type's F1, resampling sentences.

    It needs only the tags already predicted: each resample re-weights the per-sentence entity
    counts, so no forward pass is repeated.
    """
    if not gold:
        return None, {}
    counts = _entity_counts(predicted, gold, types).astype(np.float64)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(gold), np.full(len(gold), 1 / len(gold)), size=resamples)
    totals = np.einsum("rn,ntk->rtk", weights.astype(np.float64), counts)

    def interval(samples: np.ndarray) -> Interval:
        low, high = np.percentile(samples, [2.5, 97.5])
        return Interval(round(float(low), 4), round(float(high), 4))

    overall = totals.sum(axis=1)
    per_type = {
        entity: interval(_f1(totals[:, i, 0], totals[:, i, 1], totals[:, i, 2]))
        for i, entity in enumerate(types)
        if counts[:, i, 2].sum() > 0
    }
    return interval(_f1(overall[:, 0], overall[:, 1], overall[:, 2])), per_type


def score_tags(
    predicted: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    metric,
    types: Sequence[str],
) -> LanguageScores:
    """seqeval's entity-level scores with bootstrap intervals, for one language."""
    scores = metric.compute(predictions=list(predicted), references=list(gold))
    overall_ci, type_ci = bootstrap_f1(predicted, gold, types)
    per_type = {
        entity: EntityScores(
            precision=float(values["precision"]),
            recall=float(values["recall"]),
            f1=float(values["f1"]),
            number=int(values["number"]),
            f1_ci=type_ci.get(entity),
        )
        for entity, values in sorted(scores.items())
        if isinstance(values, dict)
    }
    return LanguageScores(
        precision=float(scores["overall_precision"]),
        recall=float(scores["overall_recall"]),
        f1=float(scores["overall_f1"]),
        accuracy=float(scores["overall_accuracy"]),
        num_sentences=len(gold),
        num_entities=sum(scores.number for scores in per_type.values()),
        per_type=per_type,
        f1_ci=overall_ci,
    )


def evaluate_language(
    model: torch.nn.Module,
    loader,
    accelerator,
    id2label: Mapping[int, str],
    metric,
    types: Sequence[str],
    kinds: torch.Tensor | None = None,
    continuation_map: torch.Tensor | None = None,
    desc: str = "eval",
) -> LanguageScores:
    """Scores of one evaluation set; with ``kinds`` also sub-word agreement and whole words."""
    agreement = whole_words = None
    if kinds is not None and continuation_map is not None:
        agreement = SubwordAgreement(kinds == PieceKind.CONTINUATION, continuation_map)
        whole_words = WholeWordTally(kinds, id2label)
    predicted: list[list[str]] = []
    gold: list[list[str]] = []
    for batch in gathered_predictions(model, loader, accelerator, desc):
        batch_predicted, batch_gold = word_tags(batch.predictions, batch.labels, id2label)
        predicted += batch_predicted
        gold += batch_gold
        for tally in (agreement, whole_words):
            if tally is not None:
                tally.update(batch)
    model.train()
    scores = score_tags(predicted, gold, metric, types)
    if agreement is not None and whole_words is not None:
        scores.subword_agreement = agreement.result()
        scores.whole_word_groups, scores.simple_groups = whole_words.result()
    return scores
