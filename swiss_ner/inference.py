"""Tag raw text with a fine-tuned token-classification model.

The model was trained on PAN-X, whose Wikipedia sentences come pre-split into words with
punctuation apart ("Credit Suisse ." is three words). XLM-R's tokenizer splits raw text on
whitespace only, so feeding it raw text glues the period to "Suisse" and the tagger sees a word it
never saw in training. We therefore split raw text the way PAN-X does (:func:`split_words`), tag
those words (first sub-word decides each word's label) and report every entity as a slice of the
original text, with character offsets, never as decoded sub-words.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

Word = tuple[str, int, int]

# Abbreviations whose period PAN-X keeps on the word ("St. Gallen", "Dr. Meier", "Nr. 5").
# Case-sensitive on purpose: sentence-final "no." or "art." must lose its period.
ABBREVIATIONS: frozenset[str] = frozenset(
    "St Ste Dr Prof Nr No Mr Mrs Ms Mme Mlle Jr Sr vs Vol Gen Rep Sgt Co Inc Ltd Mt Ft Hr Fr Abs "
    "bzw ca usw vgl Mio Mrd etc Dott Sig Avv Ing".split()
)

# English clitics PAN-X splits off: "Switzerland's" -> "Switzerland" "'s", "don't" -> "do" "n't".
# Only after the ASCII apostrophe: PAN-X keeps typographic ones on the word ("Women’s", "Don’t").
_CLITIC = re.compile(r"(?i)(?<=\w)(n't|'(?:s|m|re|ve|ll|d))$")

_LETTER = r"[^\W\d_]"
# Alternatives in priority order:
#   a clitic that already stands apart ("Switzerland 's");
#   dotted acronyms, which keep their last period ("U.S.", "d.h.", "S.p.A.");
#   initials, which keep their period ("J. R. Tolkien"; lower-case ones are split again below);
#   words with inner hyphens, elisions and number separators ("États-Unis", "l'Office", "6:3");
#   punctuation, a run of one character making one word ("''", "...").
_TOKEN = re.compile(
    rf"""
      (?i:n't|'(?:s|m|re|ve|ll|d))(?!\w)
    | (?:{_LETTER}\.){{2,}}(?!\w)
    | {_LETTER}\.(?!\w)
    | \w+(?:(?:[-‐'’.·]|(?<=\d)[,:–](?=\d))\w+)*
    | ([^\w\s])\1*
    """,
    re.VERBOSE,
)


def split_words(text: str) -> list[Word]:
    """Split raw text into PAN-X-style words, each with its ``(word, start, end)`` offsets.

    Punctuation stands apart ("Suisse." -> "Suisse" "."), but words keep inner hyphens and French
    or Italian elisions ("États-Unis", "l'Office", "d'Italia"), numbers keep inner separators
    ("6-4", "6:3", "3.5", "1,000"), initials, dotted acronyms and common abbreviations keep their
    period ("J.", "U.S.", "St."), and English clitics split off ("'s", "n't"), as in the data.
    ``text[start:end] == word`` always holds.
    """
    words: list[Word] = []
    for match in _TOKEN.finditer(text):
        word, start, end = match.group(), match.start(), match.end()
        if len(word) == 2 and word[1] == "." and not word[0].isupper():
            words.append((word[0], start, start + 1))
            words.append((".", start + 1, end))
            continue
        if word == "." and words and words[-1][0] in ABBREVIATIONS and words[-1][2] == start:
            previous, previous_start, _ = words.pop()
            words.append((previous + ".", previous_start, end))
            continue
        clitic = _CLITIC.search(word)
        if clitic and clitic.start() > 0:
            cut = start + clitic.start()
            words.append((word[: clitic.start()], start, cut))
            words.append((clitic.group(), cut, end))
            continue
        words.append((word, start, end))
    return words


@dataclass(frozen=True)
class Entity:
    """One tagged entity: ``text == source[start:end]``, made of words ``word_start:word_end``."""

    text: str
    type: str
    score: float
    start: int
    end: int
    word_start: int
    word_end: int

    @property
    def entity_group(self) -> str:
        """The name ``transformers`` pipelines use for :attr:`type`."""
        return self.type

    def to_dict(self) -> dict:
        return asdict(self)


def _split_tag(tag: str) -> tuple[str, str]:
    """``("B", "PER")`` from ``"B-PER"``, ``("O", "")`` for outside; a bare ``"PER"`` is inside."""
    if tag == "O" or not tag:
        return "O", ""
    prefix, dash, entity_type = tag.partition("-")
    if dash and prefix in {"B", "I"}:
        return prefix, entity_type
    return "I", tag


def decode_iob2(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, first_word, end_word)`` from IOB2 tags, end exclusive.

    Lenient like seqeval's default mode: an ``I-X`` after ``O`` or after another type starts a new
    entity instead of being dropped, since a model's output need not be valid IOB2.
    """
    spans: list[tuple[str, int, int]] = []
    current_type, current_start = "", -1
    for index, tag in enumerate(tags):
        prefix, entity_type = _split_tag(tag)
        continues = prefix == "I" and entity_type == current_type
        if current_type and not continues:
            spans.append((current_type, current_start, index))
            current_type = ""
        if prefix != "O" and not continues:
            current_type, current_start = entity_type, index
    if current_type:
        spans.append((current_type, current_start, len(tags)))
    return spans


def decode_entities(
    words: Sequence[Word],
    tags: Sequence[str],
    scores: Sequence[float],
    text: str | None = None,
) -> list[Entity]:
    """Entities from per-word tags and scores; an entity's score is the mean of its words' scores.

    The entity text is ``text[start:end]`` of the original text, so it keeps the original spacing.
    Without ``text`` the words are laid out at their offsets with spaces in the gaps.
    """
    if not len(words) == len(tags) == len(scores):
        raise ValueError(f"{len(words)} words, {len(tags)} tags and {len(scores)} scores")
    if text is None:
        text = _layout(words)
    entities = []
    for entity_type, first, last in decode_iob2(tags):
        start, end = words[first][1], words[last - 1][2]
        score = sum(scores[first:last]) / (last - first)
        entities.append(Entity(text[start:end], entity_type, float(score), start, end, first, last))
    return entities


def _layout(words: Sequence[Word]) -> str:
    """A text in which every word sits at its offsets, gaps filled with spaces."""
    pieces: list[str] = []
    position = 0
    for word, start, end in words:
        pieces.append(" " * (start - position) + word)
        position = end
    return "".join(pieces)


class ModelLoadError(RuntimeError):
    """The model or tokenizer could not be loaded (missing folder, unknown repo, offline, ...)."""


def _windows(piece_counts: Sequence[int], budget: int, context: int) -> list[tuple[int, int]]:
    """Word windows ``(start, end)`` of at most ``budget`` sub-words that cover every word.

    Consecutive windows overlap by about ``context`` sub-words so that every word can be read from
    a window where it has context on both sides. A word longer than ``budget`` gets its own window
    (the tokenizer truncates its tail; its first piece, the one that is read, survives).
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


def _choose_window(windows: Sequence[tuple[int, int]], total: int) -> list[int]:
    """For each word, the window in which it lies furthest from an edge (most context)."""
    best = [-1] * total
    margin = [-1] * total
    for number, (start, end) in enumerate(windows):
        for index in range(start, end):
            distance = min(index - start, end - 1 - index)
            if distance > margin[index]:
                best[index], margin[index] = number, distance
    return best


class NerTagger:
    """A token-classification model that tags raw text; load it with :meth:`from_pretrained`.

    >>> tagger = NerTagger.from_pretrained("outputs/xlmr-panx-ch")  # doctest: +SKIP
    >>> tagger.tag("traf Vertreter der Credit Suisse.")  # doctest: +SKIP
    [[Entity(text='Credit Suisse', type='ORG', score=0.98, start=19, end=32, ...)]]
    """

    def __init__(
        self,
        model,
        tokenizer,
        device: str | torch.device | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        context: int | None = None,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("NerTagger needs a fast (tokenizers-backed) tokenizer for word_ids()")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = torch.device(device) if device else _default_device()
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(self.device)!r} requested but CUDA is not available")
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.id2label = {int(i): label for i, label in model.config.id2label.items()}
        self.max_length = max_length or _model_max_length(model, tokenizer)
        self.budget = self.max_length - tokenizer.num_special_tokens_to_add(pair=False)
        if self.budget < 1:
            raise ValueError(f"max_length {self.max_length} leaves no room for words")
        self.context = self.budget // 4 if context is None else min(context, self.budget - 1)

    @classmethod
    def from_pretrained(
        cls,
        model_name_or_path: str,
        device: str | torch.device | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        **kwargs,
    ) -> NerTagger:
        """Load model and tokenizer from a Hub repo id or a local folder.

        Raises :class:`ModelLoadError` with the reason when either cannot be loaded.
        """
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        name = str(model_name_or_path)
        folder = Path(name).expanduser()
        if _looks_like_a_path(name) and not folder.is_dir():
            raise ModelLoadError(f"model folder {name!r} does not exist")
        if folder.is_dir() and not (folder / "config.json").is_file():
            raise ModelLoadError(f"model folder {name!r} has no config.json")
        source = str(folder) if folder.is_dir() else name
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForTokenClassification.from_pretrained(source)
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(
                f"could not load a token-classification model from {model_name_or_path!r}: {error}"
            ) from error
        return cls(
            model, tokenizer, device=device, batch_size=batch_size, max_length=max_length, **kwargs
        )

    def tag(self, texts: str | Iterable[str]) -> list[list[Entity]]:
        """The entities of each text, in order; a single string counts as a list of one."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        split = [split_words(text) for text in texts]
        predictions = self.predict_words([[word for word, _, _ in words] for words in split])
        return [
            decode_entities(words, tags, scores, text)
            for text, words, (tags, scores) in zip(texts, split, predictions, strict=True)
        ]

    def predict_words(
        self, sentences: Sequence[Sequence[str]]
    ) -> list[tuple[list[str], list[float]]]:
        """Per-word tags and probabilities for pre-split sentences of any length.

        Each word takes the label of its first sub-word (argmax of the softmax) with that
        label's probability; sentences longer than the model's limit are read in overlapping
        windows of words, each word from the window that gives it the most context.
        """
        requests: list[tuple[int, int, int]] = []
        plans: list[list[int]] = []
        for number, words in enumerate(sentences):
            windows = _windows(self._piece_counts(words), self.budget, self.context)
            first = len(requests)
            requests.extend((number, start, end) for start, end in windows)
            plans.append([first + w for w in _choose_window(windows, len(words))])

        window_results = self._run_windows(sentences, requests)
        results = []
        for plan in plans:
            tags, scores = [], []
            for index, request in enumerate(plan):
                _, start, _ = requests[request]
                label_id, probability = window_results[request].get(index - start, (None, 0.0))
                tags.append("O" if label_id is None else self.id2label[label_id])
                scores.append(probability)
            results.append((tags, scores))
        return results

    def _piece_counts(self, words: Sequence[str]) -> list[int]:
        """How many sub-words each word becomes, as the tokenizer splits pre-split words."""
        if not words:
            return []
        encoding = self.tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)
        counts = [0] * len(words)
        for word_id in encoding.word_ids():
            if word_id is not None:
                counts[word_id] += 1
        return [max(count, 1) for count in counts]

    @torch.inference_mode()
    def _run_windows(
        self, sentences: Sequence[Sequence[str]], requests: Sequence[tuple[int, int, int]]
    ) -> list[dict[int, tuple[int, float]]]:
        """For each window, ``{word index in window: (label id, probability)}`` of first pieces."""
        results: list[dict[int, tuple[int, float]]] = []
        for offset in range(0, len(requests), self.batch_size):
            batch = requests[offset : offset + self.batch_size]
            encoding = self.tokenizer(
                [list(sentences[number][start:end]) for number, start, end in batch],
                is_split_into_words=True,
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            inputs = {k: v.to(self.device) for k, v in encoding.items() if k != "token_type_ids"}
            probabilities = self.model(**inputs).logits.float().softmax(dim=-1)
            best_probability, best_label = probabilities.max(dim=-1)
            best_probability, best_label = best_probability.cpu(), best_label.cpu()
            for row in range(len(batch)):
                first_pieces: dict[int, tuple[int, float]] = {}
                for position, word_id in enumerate(encoding.word_ids(row)):
                    if word_id is not None and word_id not in first_pieces:
                        first_pieces[word_id] = (
                            int(best_label[row, position]),
                            float(best_probability[row, position]),
                        )
                results.append(first_pieces)
        return results


def _looks_like_a_path(name: str) -> bool:
    """True for names that cannot be a Hub repo id ("org/repo" or "repo"): meant as folders."""
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        return True
    return os.sep != "/" and os.sep in name


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _model_max_length(model, tokenizer) -> int:
    """Longest input the model accepts: the tokenizer's limit, capped by the position table.

    Two positions are held back because RoBERTa-style models start positions after the padding id.
    """
    limits = [int(tokenizer.model_max_length)] if tokenizer.model_max_length < 1_000_000 else []
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions) - 2)
    return min(limits) if limits else 512
