"""Export a token-classification model to ONNX and run it with ONNX Runtime.

The export uses the dynamo-based ``torch.onnx.export`` (optimum-onnx has no release for
transformers 5) with dynamic batch and sequence axes, and ``--quantize`` stores int8 weights
with ``onnxruntime.quantization.quantize_dynamic``. The exported folder holds the ONNX file, the
tokenizer and ``config.json``, so :class:`~swiss_ner.inference.NerTagger` loads it standalone
with ``backend="onnx"``. ``onnx`` and ``onnxruntime`` are imported only here, inside functions.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from swiss_ner.inference.tagger import ModelLoadError

ONNX_FILE = "model.onnx"
QUANTIZED_FILE = "model_quantized.onnx"  # optimum's names, which ONNX tools look for
INPUT_NAMES = ("input_ids", "attention_mask")
# Largest difference of logits between torch and the exported graph that counts as equal.
EXPORT_TOLERANCE = 1e-3
INSTALL_HINT = "install the onnx extra: pip install 'swiss-ner[onnx]'"


def _require(name: str):
    """The module ``name`` of the onnx extra, or one line saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise RuntimeError(f"the ONNX backend needs {name}; {INSTALL_HINT}") from None


class _Logits(torch.nn.Module):
    """The model with plain tensor inputs and the logits as its only output, as ONNX wants."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def _example_inputs(pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows of different length (padding included), so no axis is fixed at export."""
    input_ids = torch.arange(10, 10 + 2 * 12).reshape(2, 12)
    attention_mask = torch.ones_like(input_ids)
    input_ids[1, 8:], attention_mask[1, 8:] = pad_id, 0
    return input_ids, attention_mask


def _export_graph(model: torch.nn.Module, pad_id: int, path: Path) -> None:
    """Write the fp32 graph with dynamic axes and check its logits against torch."""
    _require("onnxscript")  # torch.onnx.export(dynamo=True) builds the graph with it
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    inputs = _example_inputs(pad_id)
    wrapped = _Logits(model.eval())
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on axis names, deprecations
            exporter_log.setLevel(logging.ERROR)  # and on torchvision operators it skips
            torch.onnx.export(
                wrapped,
                inputs,
                str(path),
                dynamo=True,
                input_names=list(INPUT_NAMES),
                output_names=["logits"],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in INPUT_NAMES},
                external_data=False,
                verbose=False,
            )
    finally:
        exporter_log.setLevel(level)
    with torch.inference_mode():
        expected = wrapped(*inputs)
    got = OnnxTokenClassifier(path, model.config, threads=1)(*inputs).logits
    kept = inputs[1].bool()
    difference = (got[kept] - expected[kept]).abs().max().item()
    if difference > EXPORT_TOLERANCE:
        raise RuntimeError(
            f"the exported ONNX graph's logits differ from torch's by {difference:.2e} "
            f"(more than {EXPORT_TOLERANCE}); the export is not usable"
        )


def export_onnx(model_name_or_path: str, output_dir: str | Path, quantize: bool = False) -> Path:
    """Export a tagger to ``output_dir`` (ONNX file, tokenizer, config.json); return the file.

    With ``quantize`` the weights of the matrix products are stored in int8 and the file is
    ``model_quantized.onnx``; an ONNX file of the other kind in ``output_dir`` is replaced.
    """
    from swiss_ner.inference.tagger import NerTagger

    _require("onnxruntime")
    tagger = NerTagger.from_pretrained(str(model_name_or_path), device="cpu")
    output = Path(output_dir).expanduser()
    output.mkdir(parents=True, exist_ok=True)
    target = output / (QUANTIZED_FILE if quantize else ONNX_FILE)
    with tempfile.TemporaryDirectory(dir=output) as scratch:
        graph = Path(scratch) / ONNX_FILE
        _export_graph(tagger.model, tagger.pad_id, graph)
        if quantize:
            graph = _quantize(graph)
        shutil.move(str(graph), target)
    (output / (ONNX_FILE if quantize else QUANTIZED_FILE)).unlink(missing_ok=True)
    tagger.model.config.save_pretrained(output)
    tagger.tokenizer.save_pretrained(output)
    return target


def _quantize(graph: Path) -> Path:
    """int8 weights for the matrix products, beside ``graph``, after ONNX Runtime's recommended
    pre-processing (shape inference and graph clean-up). One scale per output channel: on PAN-X
    it kept more word tags equal to fp32 than one scale per matrix, at the same speed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared, quantized = graph.with_name("prepared.onnx"), graph.with_name(QUANTIZED_FILE)
    quant_pre_process(str(graph), str(prepared))
    quantize_dynamic(str(prepared), str(quantized), weight_type=QuantType.QInt8, per_channel=True)
    return quantized


def onnx_file(folder: str | Path) -> Path:
    """The ONNX file of an exported folder; :class:`ModelLoadError` names what is missing."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"ONNX model folder {str(folder)!r} does not exist")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"ONNX model folder {str(folder)!r} has no config.json")
    found = [path / name for name in (ONNX_FILE, QUANTIZED_FILE) if (path / name).is_file()]
    if len(found) != 1:
        what = "both" if found else "neither"
        raise ModelLoadError(
            f"ONNX model folder {str(folder)!r} holds {what} {ONNX_FILE} and {QUANTIZED_FILE}; "
            f"export one with `swiss-ner export --model M --onnx {folder}`"
        )
    return found[0]


def _session(path: Path, threads: int):
    """An ONNX Runtime CPU session with all graph optimisations and ``threads`` threads."""
    ort = _require("onnxruntime")
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (
        state.Fail,
        state.InvalidArgument,
        state.InvalidGraph,
        state.InvalidProtobuf,
        state.NoSuchFile,
        state.RuntimeException,
    ) as error:
        message = " ".join(str(error).split())
        raise ModelLoadError(f"cannot load the ONNX model {str(path)!r}: {message}") from None


class OnnxTokenClassifier:
    """An ONNX Runtime session that answers like a transformers token-classification model:
    ``model(input_ids=..., attention_mask=...).logits``, with the model's ``config``.

    It uses as many threads as torch (``torch.get_num_threads()``), so ``--num-threads`` and
    ``torch.set_num_threads`` set both backends alike.
    """

    def __init__(self, path: str | Path, config, threads: int | None = None) -> None:
        self.path = Path(path)
        self.config = config
        self.quantized = self.path.name == QUANTIZED_FILE
        self.session = _session(self.path, threads or torch.get_num_threads())
        names = {node.name for node in self.session.get_inputs()}
        if names != set(INPUT_NAMES):
            raise ModelLoadError(
                f"the ONNX model {str(self.path)!r} takes inputs {sorted(names)}, expected "
                f"{list(INPUT_NAMES)}; export it with `swiss-ner export`"
            )

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        from transformers.modeling_outputs import TokenClassifierOutput

        feeds = {
            "input_ids": input_ids.cpu().long().numpy(),
            "attention_mask": attention_mask.cpu().long().numpy(),
        }
        (logits,) = self.session.run(["logits"], feeds)
        return TokenClassifierOutput(logits=torch.from_numpy(logits))


def load_onnx_model(folder: str | Path, threads: int | None = None) -> OnnxTokenClassifier:
    """The exported model of ``folder`` with its config; raises :class:`ModelLoadError`."""
    from transformers import AutoConfig

    path = onnx_file(folder)
    try:
        config = AutoConfig.from_pretrained(str(path.parent))
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot read {str(path.parent / 'config.json')!r}: {error}") from None
    return OnnxTokenClassifier(path, config, threads)
