"""The ONNX backend: export of the trained tiny model, tags equal to torch's on PAN-X, the int8
export, the `swiss-ner export` command, and one-line errors for folders that cannot work."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import PANX_DIR

from swiss_ner.cli import main
from swiss_ner.data import read_iob2
from swiss_ner.inference import ModelLoadError, NerTagger
from swiss_ner.inference.onnx_backend import (
    ONNX_FILE,
    QUANTIZED_FILE,
    export_onnx,
    load_onnx_model,
)

pytest.importorskip("onnxruntime", reason="the ONNX backend needs the onnx extra")

LANGS = ("de", "fr", "it", "en")


def validation_sentences(per_lang: int) -> list[list[str]]:
    return [
        tokens
        for lang in LANGS
        for tokens in read_iob2(PANX_DIR / f"validation-{lang}.tsv", lang)["tokens"][:per_lang]
    ]


@pytest.fixture(scope="module")
def onnx_dir(trained_model_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("onnx")
    export_onnx(trained_model_dir, folder)
    return folder


@pytest.fixture(scope="module")
def torch_tagger(trained_model_dir) -> NerTagger:
    return NerTagger.from_pretrained(str(trained_model_dir), device="cpu", batch_size=8)


@pytest.fixture(scope="module")
def onnx_tagger(onnx_dir) -> NerTagger:
    return NerTagger.from_pretrained(str(onnx_dir), backend="onnx", batch_size=8)


def test_export_folder_loads_standalone(onnx_dir, trained_model_dir, onnx_tagger, torch_tagger):
    names = {path.name for path in onnx_dir.iterdir()}
    assert {ONNX_FILE, "config.json", "tokenizer.json"} <= names
    assert QUANTIZED_FILE not in names and "model.safetensors" not in names
    assert not any(path.is_dir() for path in onnx_dir.iterdir()), "no scratch folder is left"
    assert onnx_tagger.backend == "onnx" and torch_tagger.backend == "torch"
    assert not onnx_tagger.quantized and onnx_tagger.device.type == "cpu"
    assert onnx_tagger.id2label == torch_tagger.id2label
    assert onnx_tagger.max_length == torch_tagger.max_length


def test_word_tags_equal_torch_on_panx(onnx_tagger, torch_tagger):
    sentences = validation_sentences(40)
    expected = torch_tagger.predict_words(sentences)
    got = onnx_tagger.predict_words(sentences)
    assert [tags for tags, _ in got] == [tags for tags, _ in expected]
    assert sum(tag != "O" for tags, _ in expected for tag in tags) > 0, "the model tags entities"
    for (_, scores), (_, reference) in zip(got, expected, strict=True):
        assert scores == pytest.approx(reference, abs=1e-4)


def test_raw_text_and_long_sentences_equal_torch(onnx_tagger, torch_tagger):
    """Batches of several widths, and a sentence longer than the model reads in one window: the
    exported graph's batch and sequence axes are dynamic."""
    texts = [" ".join(tokens) for tokens in validation_sentences(10)]
    for batch in (texts[:1], texts):
        got, expected = onnx_tagger.tag(batch), torch_tagger.tag(batch)
        assert [[(e.text, e.type, e.start, e.end) for e in row] for row in got] == [
            [(e.text, e.type, e.start, e.end) for e in row] for row in expected
        ]
    long_sentence = [token for tokens in validation_sentences(5) for token in tokens]
    assert len(onnx_tagger.tokenizer(long_sentence, is_split_into_words=True)["input_ids"]) > (
        2 * onnx_tagger.max_length
    )
    assert onnx_tagger.predict_words([long_sentence])[0][0] == (
        torch_tagger.predict_words([long_sentence])[0][0]
    )


def test_cli_export_quantized(trained_model_dir, onnx_dir, torch_tagger, tmp_path, capsys):
    out = tmp_path / "int8"
    out.mkdir()
    shutil.copy(onnx_dir / ONNX_FILE, out / ONNX_FILE)  # an earlier fp32 export
    argv = ["export", "--model", str(trained_model_dir), "--onnx", str(out), "--quantize"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert QUANTIZED_FILE in printed and "int8" in printed
    assert not (out / ONNX_FILE).exists(), "the fp32 file of an earlier export is replaced"
    assert (out / QUANTIZED_FILE).stat().st_size < 0.6 * (onnx_dir / ONNX_FILE).stat().st_size
    int8 = NerTagger.from_pretrained(str(out), backend="onnx")
    assert int8.quantized
    sentences = validation_sentences(50)
    plain = [tag for tags, _ in torch_tagger.predict_words(sentences) for tag in tags]
    quantized = [tag for tags, _ in int8.predict_words(sentences) for tag in tags]
    assert sum(a == b for a, b in zip(plain, quantized, strict=True)) / len(plain) >= 0.95


def test_folder_without_onnx_file_is_named(trained_model_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="neither model.onnx.*swiss-ner export"):
        NerTagger.from_pretrained(str(trained_model_dir), backend="onnx")
    with pytest.raises(ModelLoadError, match="does not exist"):
        NerTagger.from_pretrained(str(tmp_path / "missing"), backend="onnx")


def test_corrupt_onnx_file_is_one_line(onnx_dir, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(onnx_dir, broken)
    (broken / ONNX_FILE).write_bytes(b"not a protobuf")
    with pytest.raises(ModelLoadError, match="cannot load the ONNX model"):
        load_onnx_model(broken)
    (broken / ONNX_FILE).unlink()
    (broken / "config.json").unlink()
    assert main(["export", "--model", str(broken), "--onnx", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("swiss-ner: error:") and "config.json" in error
    assert len(error.splitlines()) == 1


def test_bad_backend_options(onnx_dir):
    with pytest.raises(ValueError, match="backend must be one of torch, onnx"):
        NerTagger.from_pretrained(str(onnx_dir), backend="tensorrt")
    with pytest.raises(ValueError, match="export --quantize"):
        NerTagger.from_pretrained(str(onnx_dir), backend="onnx", quantize=True)


def test_missing_onnxruntime_names_the_extra(onnx_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(RuntimeError, match=r"pip install 'swiss-ner\[onnx\]'"):
        NerTagger.from_pretrained(str(onnx_dir), backend="onnx")
