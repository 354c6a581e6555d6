import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForTokenClassification, AutoTokenizer

from swiss_ner.config import TrainConfig, parse_config
from swiss_ner.training import (
    CHECKPOINTS_DIR,
    TrainingState,
    continuation_token_mask,
    find_checkpoint,
    train,
    word_consistency_loss,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_training_lowers_loss_and_writes_everything(trained_run):
    output_dir, results = trained_run
    losses = [epoch["train_loss"] for epoch in results["history"]]
    assert losses[-1] < losses[0]
    for name in (
        "model.safetensors",
        "config.json",
        "results.json",
        "train_config.json",
        "README.md",
    ):
        assert (output_dir / name).exists(), name
    assert (output_dir / "tokenizer.json").exists()
    assert (output_dir / CHECKPOINTS_DIR / "epoch_3" / "training_state.json").exists()
    assert list((output_dir / "logs").rglob("events.out.tfevents*")), "no TensorBoard events"
    assert 0.0 < saved_agreement(output_dir, "de") <= 1.0
    for lang, scores in results["metrics"].items():
        assert 0.0 <= scores["whole_word_groups"] <= 1.0, lang
        assert scores["simple_groups"] > 0, lang
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["train_langs"] == ["de"]
    assert saved["zero_shot_langs"] == ["fr", "it", "en"]
    assert set(saved["metrics"]) == {"de", "fr", "it", "en"}
    assert saved["metrics"]["de"]["num_sentences"] == 200
    assert saved["metrics"]["de"]["f1"] > 0.0
    assert set(saved["metrics"]["de"]["per_type"]) == {"PER", "ORG", "LOC"}
    assert saved["config"]["learning_rate"] == 3e-3
    assert "transformers" in saved["versions"]
    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"]["1"] == "B-PER"
    assert config["architectures"] == ["XLMRobertaForTokenClassification"]


def saved_agreement(output_dir: Path, lang: str) -> float:
    return json.loads((output_dir / "results.json").read_text())["metrics"][lang][
        "subword_agreement"
    ]


def test_saved_model_loads_in_stock_transformers(trained_model_dir):
    model = AutoModelForTokenClassification.from_pretrained(trained_model_dir)
    assert type(model).__name__ == "XLMRobertaForTokenClassification"


def test_resume_continues_at_the_next_step_with_the_same_data(train_config_factory):
    # 480 sentences / 16 = 30 batches an epoch; the step-20 checkpoint lies mid-epoch.
    settings = dict(max_steps=40, checkpointing_steps=10, eval_langs=["de"], max_eval_samples=40)
    full = train_config_factory(**settings)
    full_results = train(full)
    checkpoint = Path(full.output_dir) / CHECKPOINTS_DIR / "step_20"
    assert TrainingState.load(checkpoint) == TrainingState(0, 20, 20)

    resumed = train_config_factory(**settings, resume_from=str(checkpoint))
    resumed_results = train(resumed)
    assert resumed_results["train_steps"] == full_results["train_steps"] == 40
    assert [h["step"] for h in resumed_results["history"]] == [30, 40]
    full_weights = load_file(Path(full.output_dir) / "model.safetensors")
    resumed_weights = load_file(Path(resumed.output_dir) / "model.safetensors")
    for name, tensor in full_weights.items():
        torch.testing.assert_close(resumed_weights[name], tensor, msg=name)


def test_latest_checkpoint_is_the_one_with_most_steps(tmp_path):
    for name, steps in (("epoch_1", 30), ("step_40", 40), ("step_10", 10)):
        folder = tmp_path / CHECKPOINTS_DIR / name
        folder.mkdir(parents=True)
        TrainingState(completed_steps=steps).save(folder)
    assert find_checkpoint(tmp_path, "latest").name == "step_40"
    with pytest.raises(FileNotFoundError, match="not a swiss-ner checkpoint"):
        find_checkpoint(tmp_path, str(tmp_path))


def test_config_parses_and_validates():
    config = parse_config(["--train-langs", "de", "fr", "--model", "m", "--no-label-all-tokens"])
    assert config.train_langs == ["de", "fr"]
    assert config.model_name_or_path == "m"
    assert not config.label_all_tokens
    assert (config.num_epochs, config.batch_size, config.learning_rate) == (3, 24, 5e-5)
    with pytest.raises(ValueError, match="'rm' is not in --langs"):
        TrainConfig(train_langs=["rm"]).validate()


def test_help_explains_the_options():
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "train.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--train-langs" in result.stdout
    assert "--resume-from" in result.stdout
    assert "concatenated" in result.stdout


def test_two_processes_evaluate_each_sentence_once(train_config_factory):
    config = train_config_factory(max_steps=4, eval_langs=["de", "fr"], max_eval_samples=101)
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun), "--nproc_per_node", "2", "--master_port", "29517",
        str(PROJECT_ROOT / "scripts" / "train.py"),
        "--model", config.model_name_or_path, "--data-dir", config.data_dir,
        "--output-dir", config.output_dir, "--max-steps", "4", "--batch-size", "8",
        "--max-length", "64", "--eval-langs", "de", "fr", "--max-train-samples", "200",
        "--max-eval-samples", "101", "--report-to", "none",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((Path(config.output_dir) / "results.json").read_text())
    assert results["num_processes"] == 2
    assert results["metrics"]["de"]["num_sentences"] == 101
    assert results["metrics"]["fr"]["num_sentences"] == 101
    assert results["train_steps"] == 4


def test_word_consistency_loss_is_zero_only_when_pieces_agree():
    continuation = torch.tensor([False, False, True, True])  # token ids 2 and 3 continue a word
    continuation_map = torch.tensor([0, 2, 2, 4, 4, 6, 6])  # B-X read as I-X
    input_ids = torch.tensor([[0, 1, 2, 3]])
    agreeing = torch.full((1, 4, 7), -20.0)
    agreeing[0, :, 0] = 20.0  # all O
    agreeing[0, 1, :] = -20.0
    agreeing[0, 1, 1] = 20.0  # B-PER, then its pieces I-PER
    agreeing[0, 2:, :] = -20.0
    agreeing[0, 2:, 2] = 20.0
    assert word_consistency_loss(agreeing, input_ids, continuation, continuation_map) < 1e-6
    disagreeing = agreeing.clone()
    disagreeing[0, 3, 2], disagreeing[0, 3, 4] = -20.0, 20.0  # last piece switches to I-ORG
    assert word_consistency_loss(disagreeing, input_ids, continuation, continuation_map) > 1.0


def test_continuation_pieces_are_those_without_the_word_prefix(small_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    mask = continuation_token_mask(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("Zürich Eidgenossenschaft")["input_ids"])
    ids = tokenizer("Zürich Eidgenossenschaft")["input_ids"]
    for piece, token_id in zip(pieces, ids, strict=True):
        expected = token_id not in tokenizer.all_special_ids and not piece.startswith("▁")
        assert bool(mask[token_id]) == expected, piece
    assert mask[ids].any(), "a long rare word should split into pieces"
