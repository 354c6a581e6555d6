"""Tag raw text with a fine-tuned token-classification model: :class:`NerTagger`.

Each word takes the label of its first sub-word, and every entity is reported as a slice of the
original text with character offsets, never as decoded sub-words. For speed on CPUs every
sentence is tokenised once, windows are sorted by length and batched under a budget of padded
tokens, and only the first pieces' logits are read: the last layer and the classifier run at
those positions alone (:mod:`.read_forward`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch

from swiss_ner.constants import TAGGER_DTYPES
from swiss_ner.inference.entities import Entity, decode_entities
from swiss_ner.inference.read_forward import ReadPositions, read_logits, reads_selected
from swiss_ner.inference.windows import Window, batch_inputs, sentence_windows
from swiss_ner.inference.words import model_words, split_sentences, split_words

# Windows and padded tokens per forward pass when not given: measured on a small XLM-R, larger
# batches lose on 2 CPU cores (cache) and win on a GPU (bench/infer_throughput.py).
DEFAULT_BATCH = {"cpu": (32, 8192), "cuda": (128, 32768)}
# Sentences tokenised and sorted together: bounds memory on huge inputs, keeps batches full.
SENTENCES_PER_CHUNK = 4096
# What runs the model: torch, or ONNX Runtime on a folder from `swiss-ner export --onnx`.
BACKENDS = ("torch", "onnx")
# One window; two of one length; two short ones packed beside a long one (see windows.batch_inputs).
WARM_UP_TEXTS = (
    ("Warm-up in Zürich.",),
    ("Basel.", "Genf."),
    ("Bern.", "Chur.", "Die Credit Suisse eröffnet in Lugano, Genf und Basel neue Filialen."),
)


class ModelLoadError(RuntimeError):
    """The model or tokenizer could not be loaded (missing folder, unknown repo, offline, ...)."""


def _as_texts(texts: str | Iterable[str]) -> list[str]:
    """``texts`` as a list of strings, or a TypeError that names the offending item."""
    if isinstance(texts, str):
        return [texts]
    if texts is None or isinstance(texts, bytes | bytearray) or not isinstance(texts, Iterable):
        raise TypeError(f"texts is {_type_name(texts)}, expected a str or an iterable of str")
    checked = list(texts)
    for index, text in enumerate(checked):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {_type_name(text)}, expected str")
    return checked


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


class NerTagger:
    """A token-classification model that tags raw text; load it with :meth:`from_pretrained`.

    ``batch_size`` caps the windows per forward pass and ``max_batch_tokens`` the padded tokens
    (defaults: 32 and 8192 on a CPU, 128 and 32768 on a GPU). ``quantize=True`` runs the Linear
    layers in int8 with ``torch.ao.quantization.quantize_dynamic`` (CPU only; faster, slightly
    different tags; torch has deprecated that API in favour of torchao, so it warns).
    ``dtype="bfloat16"`` runs the model in bfloat16: faster on CPUs with AMX (Intel Sapphire
    Rapids and later; 1.4x in bench/onnx_compare.py) and usually on GPUs, slower on CPUs
    without bfloat16 units; tags differ from float32 on about 0.1% of words. ``compile=True``
    runs the torch model through ``torch.compile(dynamic=True)``: faster where Python and small
    ops dominate (small models, CPUs), after compiling its graphs on first use, which
    :meth:`warm_up` does up front.

    >>> tagger = NerTagger.from_pretrained("outputs/xlmr-panx-ch")  # doctest: +SKIP
    >>> tagger.tag("traf Vertreter der Credit Suisse.")  # doctest: +SKIP
    [[Entity(text='Credit Suisse', type='ORG', score=0.98, start=19, end=32, ...)]]
    """

    def __init__(
        self,
        model,
        tokenizer,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        max_length: int | None = None,
        context: int | None = None,
        max_batch_tokens: int | None = None,
        quantize: bool = False,
        dtype: str = "float32",
        compile: bool = False,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("NerTagger needs a fast (tokenizers-backed) tokenizer for word_ids()")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        # Anything else is an ONNX Runtime session (onnx_backend.OnnxTokenClassifier), CPU only.
        self.backend = "torch" if isinstance(model, torch.nn.Module) else "onnx"
        default_device = _default_device() if self.backend == "torch" else torch.device("cpu")
        self.device = torch.device(device) if device else default_device
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(self.device)!r} requested but CUDA is not available")
        _check_options(self.backend, self.device, quantize, dtype, compile)
        torch_dtype = _torch_dtype(dtype)
        if quantize:
            model = torch.ao.quantization.quantize_dynamic(
                model.eval(), {torch.nn.Linear}, dtype=torch.qint8
            )
        self.dtype = dtype
        if self.backend == "torch":
            weight = next(model.parameters(), None)
            if weight is not None and weight.dtype != torch_dtype:
                # A copy, as quantize_dynamic makes: the model given stays as it is.
                model = copy.deepcopy(model).to(torch_dtype)
            model = model.to(self.device).eval()
        self.compiled = compile
        self.model = torch.compile(model, dynamic=True) if compile else model
        # Only the read positions go through the last layer where the model allows it.
        self.reads_selected = self.backend == "torch" and reads_selected(model)
        if self.reads_selected:
            forward = functools.partial(read_logits, model)
            self._read_selected = torch.compile(forward, dynamic=True) if compile else forward
        self.tokenizer = tokenizer
        default_windows, default_tokens = DEFAULT_BATCH.get(self.device.type, DEFAULT_BATCH["cpu"])
        self.batch_size = batch_size or default_windows
        self.quantized = quantize or bool(getattr(model, "quantized", False))
        self.id2label = {int(i): label for i, label in model.config.id2label.items()}
        self.max_length = max_length or _model_max_length(model, tokenizer)
        self.budget = self.max_length - tokenizer.num_special_tokens_to_add(pair=False)
        if self.budget < 1:
            raise ValueError(f"max_length {self.max_length} leaves no room for words")
        self.context = self.budget // 4 if context is None else min(context, self.budget - 1)
        self.max_batch_tokens = max(max_batch_tokens or default_tokens, self.max_length)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    @classmethod
    def from_pretrained(
        cls,
        model_name_or_path: str,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        max_length: int | None = None,
        quantize: bool = False,
        backend: str = "torch",
        dtype: str = "float32",
        **kwargs,
    ) -> NerTagger:
        """Load model and tokenizer from a Hub repo id or a local folder.

        ``backend="onnx"`` runs a folder written by ``swiss-ner export --onnx`` with ONNX
        Runtime on the CPU (:mod:`.onnx_backend`). Raises :class:`ModelLoadError` with the
        reason when either cannot be loaded, also for a folder without tokenizer files
        (``AutoTokenizer`` would build an empty one).
        """
        from transformers import AutoModelForTokenClassification

        from swiss_ner.modeling import TokenizerError, load_tokenizer

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        torch_dtype = _torch_dtype(dtype)
        name = str(model_name_or_path)
        folder = Path(name).expanduser()
        onnx_model = None
        if backend == "onnx":
            from swiss_ner.inference.onnx_backend import load_onnx_model

            onnx_model = load_onnx_model(folder)
        source = _model_source(name, folder)
        try:
            tokenizer = load_tokenizer(source)
            model = onnx_model or AutoModelForTokenClassification.from_pretrained(
                source, dtype=torch_dtype
            )
        except TokenizerError as error:
            if folder.is_dir():
                raise ModelLoadError(str(error)) from None
            raise ModelLoadError(
                f"could not load a token-classification model from {name!r}: {error}"
            ) from None
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(
                f"could not load a token-classification model from {model_name_or_path!r}: {error}"
            ) from error
        return cls(
            model,
            tokenizer,
            device=device,
            batch_size=batch_size,
            max_length=max_length,
            quantize=quantize,
            dtype=dtype,
            **kwargs,
        )

    def warm_up(self) -> None:
        """Pay the first calls' costs before a client or a timer waits: every input layout a
        run can meet (one window; several of one length; several packed) runs once, which for a
        compiled model compiles each one's graph. Raises :class:`ModelLoadError` when
        torch.compile cannot compile (no C++ compiler, an unsupported op)."""
        try:
            for texts in WARM_UP_TEXTS:
                self.tag(list(texts))
        except Exception as error:
            if not self.compiled:
                raise
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ModelLoadError(f"torch.compile could not compile the model "
                                 f"({type(error).__name__}: {reason}); run without "
                                 "--compile") from error

    def tag(self, texts: str | Iterable[str]) -> list[list[Entity]]:
        """The entities of each text, in order; a single string counts as a list of one.

        Each text is cut into sentences that are read one per window, as in training; entities
        never cross a sentence boundary. Raises TypeError naming the item that is not a str.
        """
        texts = _as_texts(texts)
        split = [split_words(text) for text in texts]
        sentences = [
            (number, first, end)
            for number, (text, words) in enumerate(zip(texts, split, strict=True))
            for first, end in split_sentences(text, words)
        ]
        predictions = self.predict_words(
            [
                model_words([word for word, _, _ in split[n][first:end]])
                for n, first, end in sentences
            ]
        )
        entities: list[list[Entity]] = [[] for _ in texts]
        for (number, first, end), (tags, scores) in zip(sentences, predictions, strict=True):
            entities[number].extend(
                decode_entities(split[number][first:end], tags, scores, texts[number], first)
            )
        return entities

    def predict_words(
        self, sentences: Sequence[Sequence[str]]
    ) -> list[tuple[list[str], list[float]]]:
        """Per-word tags and probabilities for pre-split sentences of any length.

        Each word takes the label of its first sub-word (argmax of the softmax) with that
        label's probability; sentences longer than the model's limit are read in overlapping
        windows of words, each word from the window that gives it the most context. A word
        without any sub-word (nothing the tokenizer keeps) is "O" with probability 0.
        """
        results: list[tuple[list[str], list[float]]] = []
        for start in range(0, len(sentences), SENTENCES_PER_CHUNK):
            results.extend(self._predict_chunk(sentences[start : start + SENTENCES_PER_CHUNK]))
        return results

    def _predict_chunk(
        self, sentences: Sequence[Sequence[str]]
    ) -> list[tuple[list[str], list[float]]]:
        """:meth:`predict_words` for sentences that are tokenised and sorted together."""
        total = sum(len(words) for words in sentences)
        labels = torch.full((total,), -1, dtype=torch.long)
        probabilities = torch.zeros(total)
        for batch in self._batches(self._plan_windows(sentences)):
            self._read_batch(batch, labels, probabilities)
        label_list, probability_list = labels.tolist(), probabilities.tolist()
        names = [self.id2label.get(label, "O") for label in range(max(self.id2label) + 1)]
        results, position = [], 0
        for words in sentences:
            end = position + len(words)
            tags = [names[label] if label >= 0 else "O" for label in label_list[position:end]]
            results.append((tags, probability_list[position:end]))
            position = end
        return results

    def _plan_windows(self, sentences: Sequence[Sequence[str]]) -> list[Window]:
        """Tokenise every sentence once and cut it into the windows the model reads."""
        nonempty = [number for number, words in enumerate(sentences) if words]
        if not nonempty:
            return []
        # verbose=False: a long sentence is windowed below, so the tokenizer's warning that it
        # exceeds the model's limit would be wrong.
        encodings = self.tokenizer(
            [list(sentences[number]) for number in nonempty],
            is_split_into_words=True,
            verbose=False,
        ).encodings
        offsets = [0]
        for words in sentences:
            offsets.append(offsets[-1] + len(words))
        windows: list[Window] = []
        for number, encoding in zip(nonempty, encodings, strict=True):
            windows.extend(
                sentence_windows(
                    encoding.ids, encoding.word_ids, offsets[number], self.budget, self.context
                )
            )
        return windows

    def _batches(self, windows: list[Window]) -> Iterator[list[Window]]:
        """Windows sorted by length, in batches of at most ``batch_size`` windows and
        ``max_batch_tokens`` padded tokens, so that little compute goes into padding."""
        batch: list[Window] = []
        for window in sorted(windows, key=lambda window: len(window.ids)):
            padded = (len(batch) + 1) * len(window.ids)
            if batch and (len(batch) == self.batch_size or padded > self.max_batch_tokens):
                yield batch
                batch = []
            batch.append(window)
        if batch:
            yield batch

    @torch.inference_mode()
    def _read_batch(
        self, batch: list[Window], labels: torch.Tensor, probabilities: torch.Tensor
    ) -> None:
        """Run one batch and store the label and probability of every word it is read for."""
        inputs, read_for = batch_inputs(batch, self.pad_id, pack=self.backend == "torch")
        read = ReadPositions.of(read_for)
        picked = self.read_logits(inputs, read)
        best_probability, best_label = picked.float().softmax(dim=-1).max(dim=-1)
        words = read_for[read.rows, read.columns]
        labels[words] = best_label.cpu()
        probabilities[words] = best_probability.cpu()

    def read_logits(self, inputs: dict[str, torch.Tensor], read: ReadPositions) -> torch.Tensor:
        """The forward pass of one batch: the logits at ``read``'s positions, one row each."""
        inputs = {name: value.to(self.device) for name, value in inputs.items()}
        if self.reads_selected:
            return self._read_selected(**inputs, read=read.to(self.device))
        logits = self.model(**inputs).logits
        return logits[read.rows.to(self.device), read.columns.to(self.device)]


def _check_options(
    backend: str, device: torch.device, quantize: bool, dtype: str, compile: bool
) -> None:
    """Refuse the combinations of options that cannot run, naming why."""
    if quantize and device.type != "cpu":
        raise ValueError(f"quantize=True runs on the CPU only, not on {str(device)!r}")
    if backend == "onnx" and (quantize or device.type != "cpu"):
        raise ValueError(
            "the ONNX backend runs the exported file on the CPU as it is; for int8 weights "
            "export with `swiss-ner export --quantize`"
        )
    if dtype != "float32" and (quantize or backend == "onnx"):
        raise ValueError(f"dtype {dtype} runs the torch model as it is; it does not combine "
                         "with int8 (quantize) or the ONNX backend")
    if compile and (quantize or backend == "onnx"):
        raise ValueError("compile=True compiles the torch model; it does not combine with "
                         "int8 (quantize) or the ONNX backend")


def _torch_dtype(dtype: str) -> torch.dtype:
    if dtype not in TAGGER_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(TAGGER_DTYPES)}, got {dtype!r}")
    return getattr(torch, dtype)


def _model_source(name: str, folder: Path) -> str:
    """What to load from: the folder when it is one, else the Hub repo id ``name``."""
    from swiss_ner.config import is_hub_model_id

    if not folder.is_dir() and not is_hub_model_id(name):
        raise ModelLoadError(f"model folder {name!r} does not exist")
    if folder.is_dir() and not (folder / "config.json").is_file():
        raise ModelLoadError(f"model folder {name!r} has no config.json")
    return str(folder) if folder.is_dir() else name


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
