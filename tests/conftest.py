"""Session fixtures: the shared PAN-X data, a tiny untrained model and a tiny trained one.

They are built once per test session so that every module tests against the same artefacts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from swiss_ner.results import RunResults

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Tiny models run fastest on one thread, and the 2-core machines are often shared.
torch.set_num_threads(1)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PANX_DIR = Path(
    os.environ.get("SWISS_NER_PANX_DIR", PROJECT_ROOT.parent / "shared" / "data" / "panx")
)


@pytest.fixture(autouse=True)
def full_float32_products():
    """A run with --matmul-precision sets it for the process; the next test starts at torch's
    default again, so that exact comparisons elsewhere compare full float32 products."""
    yield
    torch.set_float32_matmul_precision("highest")


@pytest.fixture(scope="session")
def panx_dir() -> Path:
    if not (PANX_DIR / "train-de.tsv").exists():
        pytest.fail(f"PAN-X data not found at {PANX_DIR} (set SWISS_NER_PANX_DIR)")
    return PANX_DIR


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory, panx_dir) -> Path:
    """A tiny XLM-R-architecture model with its own Unigram tokenizer, untrained."""
    from swiss_ner.config import SmallModelConfig
    from swiss_ner.small_model import make_small_model

    folder = tmp_path_factory.mktemp("small-model")
    return make_small_model(SmallModelConfig(
        output_dir=str(folder),
        data_dir=str(panx_dir),
        vocab_size=2000,
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        intermediate_size=128,
        max_position_embeddings=130,
        max_sentences_per_lang=2000,
    ))


@pytest.fixture(scope="session")
def train_config_factory(small_model_dir, panx_dir, tmp_path_factory):
    """Builds a short-run TrainConfig for the tiny model; keyword arguments (options by their
    command-line names, whatever section holds them) override these."""
    from swiss_ner.config import TrainConfig

    def make(**overrides) -> TrainConfig:
        values = dict(
            model_name_or_path=str(small_model_dir),
            output_dir=str(tmp_path_factory.mktemp("run")),
            data_dir=str(panx_dir),
            train_langs=["de"],
            eval_langs=["de", "fr"],
            max_train_samples=480,
            max_eval_samples=200,
            num_epochs=2,
            batch_size=16,
            learning_rate=3e-3,
            max_length=64,
            report_to="none",
            num_threads=1,
        )
        values.update(overrides)
        return TrainConfig.from_flat(values)

    return make


@pytest.fixture(scope="session")
def trained_run(train_config_factory) -> tuple[Path, RunResults]:
    """A tiny model trained by our loop (every sub-word labelled): its folder and results."""
    from swiss_ner.training import train

    config = train_config_factory(
        max_train_samples=1500,
        num_epochs=3,
        eval_langs=["de", "fr", "it", "en"],
        checkpointing_steps=20,
        report_to="tensorboard",
    )
    results = train(config)
    return Path(config.output_dir), results


@pytest.fixture(scope="session")
def trained_model_dir(trained_run) -> Path:
    return trained_run[0]
