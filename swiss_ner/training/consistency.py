"""Making the pieces of a word agree: which pieces continue a word, and the loss that pulls them
onto their word's tag. Built once per run and shared by the loss and the evaluator."""

from __future__ import annotations

import torch

from swiss_ner.data import continuation_label_map
from swiss_ner.evaluation import PieceKind, piece_kinds


class WordConsistency:
    """The tokenizer's piece kinds and the B-X -> I-X label map, on the run's device."""

    def __init__(self, tokenizer, label_names: list[str], device: torch.device) -> None:
        kinds = piece_kinds(tokenizer)
        self.kinds = None if kinds is None else kinds.to(device)
        self.continuation = None if kinds is None else self.kinds == PieceKind.CONTINUATION
        self.continuation_map = torch.tensor(continuation_label_map(label_names), device=device)

    def loss(self, logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """:func:`word_consistency_loss` of a batch (needs a tokenizer with piece kinds)."""
        return word_consistency_loss(logits, input_ids, self.continuation, self.continuation_map)


def word_consistency_loss(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    continuation: torch.Tensor,
    continuation_map: torch.Tensor,
) -> torch.Tensor:
    """Pull each continuation piece's tag distribution onto its predecessor's (B-X read as I-X).

    The stock pipeline's ``simple`` aggregation groups sub-words by their own argmax, so pieces
    of one word that disagree become fragments; this makes the pieces of a word agree. It is
    written without boolean indexing, so it never waits for the device to count pieces.
    """
    is_continuation = continuation[input_ids[:, 1:]].unsqueeze(-1).float()
    previous = logits[:, :-1].float().softmax(-1)
    previous_as_inside = torch.zeros_like(previous).index_add_(-1, continuation_map, previous)
    current = logits[:, 1:].float().log_softmax(-1)
    per_piece = torch.nn.functional.kl_div(current, previous_as_inside, reduction="none")
    return (per_piece * is_continuation).sum() / is_continuation.sum().clamp(min=1)
