"""Configuration dataclasses: each field's role stated once, bounds from metadata, one parser."""

import argparse
import dataclasses

import pytest

from swiss_ner.checkpoints import NON_TRAINING_FIELDS, config_fingerprint
from swiss_ner.cli import main
from swiss_ner.config import ConfigError, TrainConfig, add_arguments, config_from_namespace
from swiss_ner.config.fields import (
    BOOKKEEPING,
    RESULTS,
    ROLES,
    TRAINING,
    card_fields,
    fields_with_role,
    option,
)
from swiss_ner.experiments.runs import NON_RESULT_FIELDS
from swiss_ner.model_card import HYPERPARAMETER_FIELDS


def test_every_training_field_has_one_known_role():
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    by_role = [fields_with_role(TrainConfig, role) for role in ROLES]
    assert set().union(*by_role) == names
    assert sum(len(group) for group in by_role) == len(names), "a field with two roles"
    with pytest.raises(ValueError, match="unknown field role"):
        option("help", role="sometimes")


def test_resume_cache_and_card_read_the_roles():
    training = fields_with_role(TrainConfig, TRAINING)
    assert NON_TRAINING_FIELDS == fields_with_role(TrainConfig, RESULTS, BOOKKEEPING)
    assert NON_RESULT_FIELDS == fields_with_role(TrainConfig, BOOKKEEPING)
    assert {"learning_rate", "seed", "batch_size"} <= training
    assert {"max_steps", "num_epochs"} <= fields_with_role(TrainConfig, RESULTS)
    assert HYPERPARAMETER_FIELDS == card_fields(TrainConfig)
    assert "learning_rate" in HYPERPARAMETER_FIELDS and "output_dir" not in HYPERPARAMETER_FIELDS


@pytest.mark.parametrize(
    ("change", "same_run"),
    [
        ({"output_dir": "elsewhere", "log_every": 7}, True),  # bookkeeping
        ({"max_steps": 99}, True),  # extends the run: resume stretches the schedule
        ({"learning_rate": 1e-3}, False),
        ({"pack": False}, False),
    ],
)
def test_the_resume_fingerprint_follows_the_roles(change, same_run):
    base = TrainConfig().to_dict()
    changed = dataclasses.replace(TrainConfig(), **change).to_dict()
    assert (config_fingerprint(base) == config_fingerprint(changed)) is same_run


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 0}, "--batch-size must be at least 1, got 0"),
        ({"learning_rate": 0.0}, "--learning-rate must be greater than 0"),
        ({"weight_decay": -0.1}, "--weight-decay must be at least 0"),
        ({"fracs": [1.5, 0.2, 0.1, 0.1]}, r"--fracs must lie in \(0, 1\]"),
        ({"train_langs": ["xx"]}, "language 'xx' is not in --langs"),
    ],
)
def test_validation_names_the_option(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**values).validate()


def parse(argv: list[str]) -> TrainConfig:
    parser = add_arguments(argparse.ArgumentParser(), TrainConfig)
    return config_from_namespace(TrainConfig, parser.parse_args(argv))


def test_options_parse_into_the_dataclass_with_its_defaults():
    config = parse(["--model", "m", "--batch-size", "8", "--train-langs", "de", "fr",
                    "--no-pack"])
    assert (config.model_name_or_path, config.batch_size, config.pack) == ("m", 8, False)
    assert config.train_langs == ["de", "fr"]
    assert config.learning_rate == TrainConfig().learning_rate


def test_a_bad_option_is_one_line_and_exit_status_2(capsys):
    assert main(["train", "--batch-size", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "swiss-ner: error: --batch-size must be at least 1, got 0\n"
