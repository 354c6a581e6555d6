"""How a sentence longer than the model reads is cut into overlapping windows of sub-words, and
from which window each word is read: the one where it has the most context on both sides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


def word_windows(piece_counts: Sequence[int], budget: int, context: int) -> list[tuple[int, int]]:
    """Word windows ``(start, end)`` of at most ``budget`` sub-words that cover every word.

    Consecutive windows overlap by about ``context`` sub-words so that every word can be read from
    a window where it has context on both sides. A word longer than ``budget`` gets its own window
    (its tail is cut; its first piece, the one that is read, survives).
    """
    windows: list[tuple[int, int]] = []
    start, total = 0, len(piece_counts)
    while start < total:
        end, used = start, 0
        while end < total and (end == start or used + piece_counts[end] <= budget):
            used += piece_counts[end]
            end += 1
        windows.append((start, end))
        if end == total:
            break
        next_start, overlap = end, 0
        while next_start - 1 > start and overlap + piece_counts[next_start - 1] <= context:
            next_start -= 1
            overlap += piece_counts[next_start]
        start = next_start
    return windows


def choose_window(windows: Sequence[tuple[int, int]], total: int) -> list[int]:
    """For each word, the window in which it lies furthest from an edge (most context)."""
    best = [-1] * total
    margin = [-1] * total
    for number, (start, end) in enumerate(windows):
        for index in range(start, end):
            distance = min(index - start, end - 1 - index)
            if distance > margin[index]:
                best[index], margin[index] = number, distance
    return best


@dataclass(frozen=True)
class Window:
    """One model input: its piece ids, and for each piece the index (among all words of the
    request) of the word it is read for, or -1 (special token, continuation piece, or a word read
    from another window)."""

    ids: list[int]
    read_for: list[int]


def sentence_windows(
    ids: list[int], word_ids: list[int | None], offset: int, budget: int, context: int
) -> list[Window]:
    """The windows that read one tokenised sentence whose words are numbered from ``offset``."""
    content = [position for position, word in enumerate(word_ids) if word is not None]
    if not content:
        return []
    first, last = content[0], content[-1] + 1
    prefix, pieces, suffix = ids[:first], ids[first:last], ids[last:]
    words = word_ids[first:last]
    read_for = [
        offset + word if position == 0 or word != words[position - 1] else -1
        for position, word in enumerate(words)
    ]
    specials = ([-1] * len(prefix), [-1] * len(suffix))
    if len(pieces) <= budget:
        return [Window(prefix + pieces + suffix, specials[0] + read_for + specials[1])]

    piece_counts = [0] * (words[-1] + 1)
    for word in words:
        piece_counts[word] += 1
    bounds = [0]
    for count in piece_counts:
        bounds.append(bounds[-1] + count)
    spans = word_windows([max(count, 1) for count in piece_counts], budget, context)
    best = choose_window(spans, len(piece_counts))
    windows = []
    for number, (start, end) in enumerate(spans):
        kept = {offset + word for word in range(start, end) if best[word] == number}
        span = slice(bounds[start], min(bounds[end], bounds[start] + budget))
        reads = [index if index in kept else -1 for index in read_for[span]]
        windows.append(Window(prefix + pieces[span] + suffix, specials[0] + reads + specials[1]))
    return windows


def pack_rows(lengths: Sequence[int], width: int) -> list[list[int]]:
    """First-fit, longest first: the indices of the sequences in each row of ``width`` tokens.

    Packing sequences of mixed lengths into rows as long as the longest, each attending only to
    itself, costs a fraction of padding every one to that length (training's collator and the
    tagger's batches of unsorted requests).
    """
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        row = next((r for r, free in enumerate(room) if free >= lengths[index]), None)
        if row is None:
            rows.append([])
            room.append(width)
            row = len(rows) - 1
        rows[row].append(index)
        room[row] -= lengths[index]
    return rows


def fill_rows(
    rows: list[list[int]], width: int, pad_id: int,
    columns: dict[str, tuple[Sequence[Sequence[int]], int]],
) -> dict[str, torch.Tensor]:
    """Lay sequences out in ``rows`` (from :func:`pack_rows`): each column ``name: (sequences,
    fill)`` as a ``rows x width`` tensor, with ``position_ids`` restarting for every sequence
    after the padding index (as XLM-R numbers them) and ``segments``, each position's sequence
    index (-1 for padding), from which the block-diagonal mask follows."""
    shape = (len(rows), width)
    tensors = {name: torch.full(shape, fill, dtype=torch.long)
               for name, (_, fill) in columns.items()}
    tensors["position_ids"] = torch.full(shape, pad_id, dtype=torch.long)
    tensors["segments"] = torch.full(shape, -1, dtype=torch.long)
    for row, members in enumerate(rows):
        start = 0
        for index in members:
            end = start
            for name, (sequences, _) in columns.items():
                end = start + len(sequences[index])
                tensors[name][row, start:end] = torch.as_tensor(sequences[index])
            tensors["position_ids"][row, start:end] = torch.arange(end - start) + pad_id + 1
            tensors["segments"][row, start:end] = index
            start = end
    return tensors


def block_diagonal(segments: torch.Tensor) -> torch.Tensor:
    """``rows x 1 x width x width``, True where two positions belong to one sequence (padding
    attends to padding, which keeps its ignored outputs finite)."""
    return segments[:, None, :, None] == segments[:, None, None, :]


def batch_inputs(
    batch: Sequence[Window], pad_id: int, pack: bool
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The model's inputs for a batch, and for each input position the word it is read for.

    With ``pack``, windows of mixed lengths (a server's batch of requests) are packed into rows
    as long as the longest, each with its own positions and a block-diagonal attention mask: 2x
    faster than padding 32 unsorted sentences on 2 cores, same logits. Windows of one length
    (length-sorted corpora), and every batch of the ONNX backend, whose graph takes a 2-D mask,
    get one row each.
    """
    lengths = [len(window.ids) for window in batch]
    width = max(lengths)
    rows = pack_rows(lengths, width) if pack else None
    packed = rows is not None and len(rows) < len(batch)
    if not packed:
        rows = [[index] for index in range(len(batch))]
    tensors = fill_rows(rows, width, pad_id, {
        "input_ids": ([window.ids for window in batch], pad_id),
        "read_for": ([window.read_for for window in batch], -1),
    })
    inputs = {"input_ids": tensors["input_ids"]}
    if packed:
        inputs["attention_mask"] = block_diagonal(tensors["segments"])
        inputs["position_ids"] = tensors["position_ids"]
    else:
        inputs["attention_mask"] = (tensors["segments"] >= 0).long()
    return inputs, tensors["read_for"]
