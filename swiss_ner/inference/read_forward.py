"""The tagger's forward pass, computed only where it is read.

A tagger reads one logit vector per word (its first sub-word's), so the last layer's queries,
attention output, feed-forward block and the classifier are needed at those positions only;
its keys and values still come from every position. Skipping the rest of the last layer
changes no logit that is read (the same operations on the same rows, to float rounding) and
tags 1.05-1.08x as fast with a 4-layer model on 2 CPU cores, the two taking turns in one
process (``bench/read_positions_ab.py``).
With int8 Linear layers (``quantize=True``), which scale their input per call, fewer rows give
other scales, so the logits move by quantization noise, as they already do between batchings.

It applies to XLM-RoBERTa-style encoders (``roberta.embeddings``, ``roberta.encoder.layer``,
``classifier``: transformers' ``XLMRobertaForTokenClassification`` and this project's own
class) with eager or SDPA attention; anything else runs the model's own forward.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional

# Attention implementations whose layers take an additive float mask of shape (B, 1, Q, K).
ADDITIVE_MASK_ATTENTION = ("sdpa", "eager")
# Held while oneDNN is switched off (see _without_onednn).
_ONEDNN_SWITCH = threading.Lock()


@dataclass
class ReadPositions:
    """The positions a batch is read at, laid out for the last layer's queries.

    ``rows``/``columns`` list them row by row (``(read_for >= 0).nonzero()``); ``slots`` gives
    each its place among its row's queries, and ``query_columns`` (batch rows x the most
    queries of any row) each query's column, 0 in the unused places.
    """

    rows: torch.Tensor
    columns: torch.Tensor
    slots: torch.Tensor
    query_columns: torch.Tensor

    @classmethod
    def of(cls, read_for: torch.Tensor) -> ReadPositions:
        rows, columns = (read_for >= 0).nonzero(as_tuple=True)
        counts = torch.bincount(rows, minlength=read_for.shape[0])
        starts = torch.cumsum(counts, 0) - counts
        slots = torch.arange(rows.numel()) - starts[rows]
        width = max(int(counts.max()), 1) if rows.numel() else 1
        query_columns = torch.zeros(read_for.shape[0], width, dtype=torch.long)
        query_columns[rows, slots] = columns
        return cls(rows, columns, slots, query_columns)

    def to(self, device: torch.device) -> ReadPositions:
        return ReadPositions(*(tensor.to(device) for tensor in (
            self.rows, self.columns, self.slots, self.query_columns)))


def reads_selected(model: torch.nn.Module) -> bool:
    """Whether :func:`read_logits` can run ``model`` (else use its own forward)."""
    base = getattr(model, "roberta", None)
    config = getattr(model, "config", None)
    return (
        base is not None
        and hasattr(base, "embeddings")
        and hasattr(getattr(base, "encoder", None), "layer")
        and len(base.encoder.layer) > 0
        and isinstance(getattr(model, "classifier", None), torch.nn.Module)
        and not getattr(config, "is_decoder", False)
        and getattr(config, "_attn_implementation", None) in ADDITIVE_MASK_ATTENTION
    )


def read_logits(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    read: ReadPositions,
    position_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """The logits at ``read``'s positions, one row each, in its order.

    ``attention_mask`` is (B, S) with 1 where a position is real, or (B, 1, S, S) boolean for
    packed rows (True where a query may attend to a key).
    """
    base = model.roberta
    hidden = base.embeddings(input_ids=input_ids, position_ids=position_ids)
    mask = additive_mask(attention_mask, hidden.dtype)
    for layer in base.encoder.layer[:-1]:
        hidden = _tensor(layer(hidden, attention_mask=mask))
    return model.classifier(_last_layer(base.encoder.layer[-1], hidden, mask, read))


def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """0 where attention is allowed and the dtype's minimum where not, as (B, 1, Q|1, K); None
    when every position attends to every other (SDPA then needs no mask at all)."""
    allowed = attention_mask.bool()
    if allowed.all():
        return None
    if allowed.dim() == 2:
        allowed = allowed[:, None, None, :]
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )


def _last_layer(layer, hidden: torch.Tensor, mask: torch.Tensor | None, read: ReadPositions):
    """The last encoder layer at the read positions only: (N, hidden) for N positions."""
    attention = layer.attention.self
    batch = hidden.shape[0]
    heads, head_size = attention.num_attention_heads, attention.attention_head_size

    def split_heads(states: torch.Tensor) -> torch.Tensor:
        return states.view(batch, -1, heads, head_size).transpose(1, 2)

    keys = split_heads(attention.key(hidden))
    values = split_heads(attention.value(hidden))
    selected = hidden[read.rows, read.columns]
    width = read.query_columns.shape[1]
    queries = selected.new_zeros(batch, width, selected.shape[-1])
    queries[read.rows, read.slots] = attention.query(selected)
    if mask is not None and mask.shape[2] > 1:  # one mask row per query: keep the read ones
        mask = mask[torch.arange(batch, device=mask.device)[:, None], 0, read.query_columns]
        mask = mask[:, None]
    context = functional.scaled_dot_product_attention(
        split_heads(queries), keys, values, attn_mask=mask, scale=attention.scaling
    )
    context = context.transpose(1, 2).reshape(batch, width, -1)[read.rows, read.slots]
    attended = layer.attention.output(context, selected)
    if torch.compiler.is_compiling():  # compiled kernels, no oneDNN
        return layer.output(layer.intermediate(attended), attended)
    with _without_onednn():
        return layer.output(layer.intermediate(attended), attended)


@contextlib.contextmanager
def _without_onednn() -> Iterator[None]:
    """torch's own kernels instead of oneDNN's (GELU, on a CPU) while inside.

    oneDNN compiles and caches a kernel for every tensor shape it meets, and the last layer's
    row count differs in nearly every batch: tagging 6,000 documents, the process then peaked
    about 200 MiB higher. torch's GELU is slower, but runs here on the read rows of one layer.
    The switch is process-wide, so taggers on other threads wait for it (the lock) rather than
    restore each other's settings out of order.
    """
    with _ONEDNN_SWITCH:
        enabled = torch.backends.mkldnn.set_flags(_enabled=False, _fp32_precision=None)[0]
        try:
            yield
        finally:
            torch.backends.mkldnn.set_flags(_enabled=enabled, _fp32_precision=None)


def _tensor(output) -> torch.Tensor:
    """A layer's hidden states, whether it returns a tensor or a tuple (older transformers)."""
    return output[0] if isinstance(output, tuple) else output
