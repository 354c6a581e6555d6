"""The published folder as users reuse it: stock pipeline, our tagger, downstream fine-tuning."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import metadata_load
from safetensors.torch import load_file
from transformers import AutoTokenizer

from swiss_ner.data import build_swiss_corpus, load_panx
from swiss_ner.hub import missing_publish_files
from swiss_ner.inference import NerTagger, split_words
from swiss_ner.training import train

SENTENCES = {
    "de": "Angela Merkel besuchte am Montag die Credit Suisse in Zürich .",
    "fr": "Emmanuel Macron a rencontré des représentants de Nestlé à Genève .",
    "it": "Il presidente Sergio Mattarella ha visitato la FIAT a Torino .",
    "en": "Roger Federer played against Rafael Nadal at Wimbledon in London .",
}

# Runs in a fresh interpreter that never imports swiss_ner: what the Hub widget and users do.
STOCK_PIPELINE = """
import json, sys
from transformers import pipeline
model_dir, strategy, texts = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
tagger = pipeline("ner", model=model_dir, aggregation_strategy=strategy, device="cpu")
groups = [[dict(type=g["entity_group"], start=int(g["start"]), end=int(g["end"])) for g in out]
          for out in tagger(texts)]
print(json.dumps({"groups": groups, "swiss_ner_loaded": "swiss_ner" in sys.modules}))
"""


def stock_pipeline(model_dir: Path, texts: list[str], strategy: str) -> list[list[dict]]:
    result = subprocess.run(
        [sys.executable, "-c", STOCK_PIPELINE, str(model_dir), strategy],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["swiss_ner_loaded"] is False
    return output["groups"]


def validation_texts(panx_dir: Path, per_lang: int = 100) -> list[str]:
    texts = []
    for lang in ("de", "fr", "it", "en"):
        validation = load_panx(lang, panx_dir)["validation"].select(range(per_lang))
        texts.extend(" ".join(tokens) for tokens in validation["tokens"])
    return texts


def starts_every_word_with_a_prefixed_piece(tokenizer, text: str) -> bool:
    """False when a word begins with a bare "▁" piece: the pipeline's word heuristic then
    treats the "▁" as a word of its own and the next piece as another."""
    return "▁" not in tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])


def test_stock_pipeline_gives_the_entities_of_our_tagger(trained_model_dir, panx_dir):
    tokenizer = AutoTokenizer.from_pretrained(trained_model_dir)
    texts = list(SENTENCES.values()) + validation_texts(panx_dir, per_lang=60)
    # Same words on both sides: the pipeline splits on spaces, we split punctuation off too.
    # ASCII only: on some non-ASCII words ("Trần") the pipeline's sub-word heuristic starts a
    # new word inside the word, depending on how the session's small vocabulary split it.
    texts = [
        text
        for text in texts
        if text.isascii()
        and starts_every_word_with_a_prefixed_piece(tokenizer, text)
        and [word for word, _, _ in split_words(text)] == text.split()
    ]
    assert len(texts) >= 30
    ours = [
        [dict(type=e.type, start=e.start, end=e.end) for e in entities]
        for entities in NerTagger.from_pretrained(str(trained_model_dir), batch_size=1).tag(texts)
    ]
    # Words are space-separated here, so "first" (the word's first piece) is exactly our rule;
    # one text per forward pass, like the pipeline, so near-tied scores break the same way.
    assert stock_pipeline(trained_model_dir, texts, "first") == ours
    assert sum(map(len, ours)) > 0


@pytest.mark.xfail(
    strict=True,
    reason="Measured: the small from-scratch models trained here disagree between the pieces of "
    "a word too often. The offline model puts 76-88% of simple groups on word boundaries; "
    "consistency weight 5, a fourth epoch at weight 10, piece masking, a SentencePiece-trained "
    "vocabulary and 2,000 MLM pre-training steps reached at most 87-93%. 99% needs a stronger "
    "(pre-trained) encoder.",
)
def test_simple_aggregation_returns_whole_words(trained_model_dir, panx_dir):
    texts = validation_texts(panx_dir)
    groups = stock_pipeline(trained_model_dir, texts, "simple")
    boundaries = []
    for text, text_groups in zip(texts, groups, strict=True):
        starts = {start for _, start, _ in split_words(text)}
        ends = {end for _, _, end in split_words(text)}
        boundaries += [g["start"] in starts and g["end"] in ends for g in text_groups]
    assert len(boundaries) >= 50, "the model should find entities in 400 sentences"
    assert sum(boundaries) / len(boundaries) >= 0.99


def test_results_report_the_whole_word_share_the_stock_pipeline_gives(trained_run, panx_dir):
    """results.json re-forms the widget's ``simple`` groups from the evaluation predictions; the
    stock pipeline on the same sentences, as raw text, returns as many groups and at least as
    many whole ones (a group ending on a bare ``▁`` piece counts as cut in results.json)."""
    output_dir, results = trained_run
    corpus = build_swiss_corpus(data_dir=panx_dir)
    texts_by_lang = {}
    for lang in ("de", "fr"):
        sentences = corpus[lang]["validation"].select(range(results.metrics[lang].num_sentences))
        texts_by_lang[lang] = [" ".join(tokens) for tokens in sentences["tokens"]]
    # One pipeline process for both languages: its start-up is most of its time.
    all_groups = stock_pipeline(output_dir, sum(texts_by_lang.values(), []), "simple")
    for lang, texts in texts_by_lang.items():
        measured = results.metrics[lang]
        groups, all_groups = all_groups[: len(texts)], all_groups[len(texts) :]
        whole = 0
        for text, text_groups in zip(texts, groups, strict=True):
            starts = {start for _, start, _ in split_words(text)}
            ends = {end for _, _, end in split_words(text)}
            whole += sum(g["start"] in starts and g["end"] in ends for g in text_groups)
        total = sum(map(len, groups))
        # Batched evaluation pads sentences; near-tied scores may break differently.
        assert abs(measured.simple_groups - total) <= 0.02 * total, lang
        assert measured.whole_word_groups <= whole / total + 0.01, lang
        assert measured.whole_word_groups >= whole / total - 0.05, lang


def test_downstream_fine_tuning_to_another_label_set(
    trained_model_dir, train_config_factory, tmp_path
):
    (tmp_path / "train-de.tsv").write_text(
        "Die\tO\nSBB\tB-ORG\nfährt\tO\nnach\tO\nBern\tB-LOC\n.\tO\n\n"
        "Der\tO\nGotthard-Tunnel\tB-MISC\nist\tO\nlang\tO\n.\tO\n\n" * 20
    )
    (tmp_path / "validation-de.tsv").write_text("Die\tO\nBLS\tB-ORG\nin\tO\nThun\tB-LOC\n\n")
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    config = train_config_factory(
        model_name_or_path=str(trained_model_dir),
        data_dir=str(tmp_path),
        langs=["de"],
        fracs=[1.0],
        train_langs=["de"],
        eval_langs=["de"],
        label_names=labels,
        max_steps=3,
        learning_rate=1e-12,
    )
    results = train(config)
    assert results.train_steps == 3
    assert results.entity_types == ["PER", "ORG", "LOC", "MISC"]
    output_dir = Path(config.output_dir)
    tuned = load_file(output_dir / "model.safetensors")
    source = load_file(trained_model_dir / "model.safetensors")
    assert tuned["classifier.weight"].shape[0] == 9
    # Steps of 1e-12 are below float32 resolution: the encoder must come back as published.
    encoder = [name for name in source if not name.startswith("classifier")]
    for name in encoder:
        torch.testing.assert_close(tuned[name], source[name], msg=name)
    assert json.loads((output_dir / "config.json").read_text())["id2label"]["7"] == "B-MISC"
    # The card of the new label set: a MISC column, and no claim that MISC is missing.
    card = (output_dir / "README.md").read_text()
    assert "| LOC F1 (95% CI) | MISC F1 (95% CI) |" in card
    assert "no MISC class" not in card
    assert "base_model" not in metadata_load(output_dir / "README.md")
    assert missing_publish_files(output_dir) == []
