"""Configuration dataclasses: sections behind a flat command line, each option's role stated once,
bounds from metadata, and train_config.json nested (schema 3) with schema 2's flat files read."""

from __future__ import annotations  # field types as strings, as the config modules write them

import argparse
import dataclasses
import json
from dataclasses import dataclass, field

import pytest

from swiss_ner.checkpoints import NON_TRAINING_FIELDS, config_fingerprint
from swiss_ner.cli import main
from swiss_ner.config import (
    BatchingOptions,
    ConfigError,
    DataOptions,
    HubOptions,
    TrainConfig,
    add_arguments,
    config_from_namespace,
    with_options,
)
from swiss_ner.config.fields import (
    BOOKKEEPING,
    RESULTS,
    ROLES,
    TRAINING,
    card_fields,
    fields_with_role,
    leaf_fields,
    option,
)
from swiss_ner.experiments.runs import NON_RESULT_FIELDS
from swiss_ner.model_card import HYPERPARAMETER_FIELDS

# Every option `swiss-ner train` had while TrainConfig was flat: none may go missing.
FLAT_OPTIONS = {
    "model_name_or_path", "output_dir", "data_dir", "langs", "fracs", "train_langs",
    "eval_langs", "label_names", "tag_scheme", "tag_column", "eval_split", "max_train_samples",
    "max_eval_samples", "num_epochs", "max_steps", "batch_size", "eval_batch_size",
    "learning_rate", "weight_decay", "warmup_ratio", "gradient_accumulation_steps",
    "max_grad_norm", "max_length", "label_all_tokens", "consistency_weight", "group_by_length",
    "length_group_size", "pack", "log_every", "fused_adamw", "compile", "pad_to", "num_threads",
    "matmul_precision", "mixed_precision", "cpu", "seed", "checkpointing_steps",
    "save_total_limit", "resume_from", "overwrite_output_dir", "report_to", "num_workers",
    "push_to_hub", "hub_model_id", "hub_private",
}
SECTIONS = ["data", "optimisation", "batching", "device", "checkpoints", "hub"]


def parse(argv: list[str]) -> TrainConfig:
    parser = add_arguments(argparse.ArgumentParser(), TrainConfig)
    return config_from_namespace(TrainConfig, parser.parse_args(argv))


def test_the_sections_hold_every_flat_option_once():
    assert [f.name for f in dataclasses.fields(TrainConfig)][-len(SECTIONS):] == SECTIONS
    names = [f.name for f in leaf_fields(TrainConfig)]
    assert set(names) == FLAT_OPTIONS and len(names) == len(FLAT_OPTIONS)
    assert set(TrainConfig().flat_dict()) == FLAT_OPTIONS
    assert TrainConfig().batching.batch_size == 24 and TrainConfig().data.train_langs == ["de"]


def test_two_options_with_one_name_are_refused():
    @dataclass
    class Twice:
        batch_size: int = field(default=1, metadata=option("h"))
        batching: BatchingOptions = field(default_factory=BatchingOptions)

    with pytest.raises(TypeError, match="names options twice: batch_size"):
        leaf_fields(Twice)


def test_every_training_option_has_one_known_role():
    names = {f.name for f in leaf_fields(TrainConfig)}
    by_role = [fields_with_role(TrainConfig, role) for role in ROLES]
    assert set().union(*by_role) == names
    assert sum(len(group) for group in by_role) == len(names), "an option with two roles"
    with pytest.raises(ValueError, match="unknown field role"):
        option("help", role="sometimes")


def test_resume_cache_and_card_read_the_roles():
    training = fields_with_role(TrainConfig, TRAINING)
    assert NON_TRAINING_FIELDS == fields_with_role(TrainConfig, RESULTS, BOOKKEEPING)
    assert NON_RESULT_FIELDS == fields_with_role(TrainConfig, BOOKKEEPING)
    assert {"learning_rate", "seed", "batch_size", "pack", "compile"} <= training
    assert {"max_steps", "num_epochs", "eval_langs"} <= fields_with_role(TrainConfig, RESULTS)
    assert {"output_dir", "hub_model_id", "resume_from"} <= NON_RESULT_FIELDS
    assert HYPERPARAMETER_FIELDS == card_fields(TrainConfig)
    assert "learning_rate" in HYPERPARAMETER_FIELDS and "output_dir" not in HYPERPARAMETER_FIELDS


@pytest.mark.parametrize("role", ROLES)
def test_a_new_option_in_a_section_lands_in_the_set_its_role_names(role):
    @dataclass
    class MoreBatching(BatchingOptions):
        bucket_width: int = field(default=4, metadata=option("h", role=role, card=True))

    @dataclass
    class Extended(TrainConfig):
        batching: MoreBatching = field(default_factory=MoreBatching)

    non_training = fields_with_role(Extended, RESULTS, BOOKKEEPING)
    non_result = fields_with_role(Extended, BOOKKEEPING)
    assert non_training - {"bucket_width"} == NON_TRAINING_FIELDS
    assert non_result - {"bucket_width"} == NON_RESULT_FIELDS
    assert ("bucket_width" in non_training) is (role != TRAINING), "the resume fingerprint"
    assert ("bucket_width" in non_result) is (role == BOOKKEEPING), "the experiment cache key"
    card = card_fields(Extended)
    assert card[card.index("batch_size") + 1] == "bucket_width", "the card, in section order"
    assert parse_as(Extended, ["--bucket-width", "9"]).batching.bucket_width == 9


def parse_as(cls: type, argv: list[str]):
    parser = add_arguments(argparse.ArgumentParser(), cls)
    return config_from_namespace(cls, parser.parse_args(argv))


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
    base = TrainConfig().flat_dict()
    changed = with_options(TrainConfig(), **change).flat_dict()
    assert (config_fingerprint(base) == config_fingerprint(changed)) is same_run


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 0}, "--batch-size must be at least 1, got 0"),
        ({"learning_rate": 0.0}, "--learning-rate must be greater than 0"),
        ({"weight_decay": -0.1}, "--weight-decay must be at least 0"),
        ({"fracs": [1.5, 0.2, 0.1, 0.1]}, r"--fracs must lie in \(0, 1\]"),
        ({"train_langs": ["xx"]}, "language 'xx' is not in --langs"),
        ({"num_epochs": 0}, "--num-epochs must be at least 1"),
        ({"compile": "yes"}, "--compile must be one of no, default"),
        ({"push_to_hub": True}, "--push-to-hub needs --hub-model-id"),
    ],
)
def test_validation_names_the_option(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_flat(values).validate()


def test_each_section_checks_its_own_options():
    with pytest.raises(ConfigError, match="--langs has 1 entries but --fracs 2"):
        DataOptions(langs=["de"], fracs=[0.5, 0.5], train_langs=["de"],
                    eval_langs=["de"]).validate()
    with pytest.raises(ConfigError, match="--hub-model-id 'not a repo'"):
        HubOptions(hub_model_id="not a repo").validate()
    BatchingOptions(batch_size=1).validate()


def test_flat_options_parse_into_the_sections_with_their_defaults():
    config = parse(["--model", "m", "--batch-size", "8", "--train-langs", "de", "fr",
                    "--no-pack", "--learning-rate", "1e-3", "--hub-model-id", "org/name",
                    "--resume-from", "latest", "--matmul-precision", "medium", "--seed", "3"])
    assert (config.model_name_or_path, config.seed) == ("m", 3)
    assert (config.batching.batch_size, config.batching.pack) == (8, False)
    assert config.data.train_langs == ["de", "fr"]
    assert config.optimisation.learning_rate == 1e-3
    assert config.optimisation.weight_decay == TrainConfig().optimisation.weight_decay
    assert config.device.matmul_precision == "medium"
    assert config.checkpoints.resume_from == "latest"
    assert config.hub.hub_model_id == "org/name"
    assert parse([]) == TrainConfig()


def test_train_help_reads_in_sections(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    headings = [line[:-1] for line in text.splitlines() if line.endswith(":") and " " not in line]
    assert headings[-len(SECTIONS):] == SECTIONS
    data_part = text.split("\ndata:\n")[1].split("\noptimisation:\n")[0]
    assert "--tag-scheme" in data_part and "--batch-size" not in data_part


def test_with_options_changes_a_copy_in_whichever_section_holds_each_option():
    base = TrainConfig()
    changed = with_options(base, learning_rate=1e-3, pack=True, seed=1, train_langs=["fr"])
    assert (changed.optimisation.learning_rate, changed.batching.pack) == (1e-3, True)
    assert (changed.seed, changed.data.train_langs) == (1, ["fr"])
    assert base == TrainConfig(), "the original is unchanged"
    assert changed.device is base.device, "untouched sections are shared, as replace() does"
    with pytest.raises(TypeError, match="no option learning_rte"):
        with_options(base, learning_rte=1)


def test_train_config_json_round_trips_nested_as_schema_3(tmp_path):
    config = parse(["--batch-size", "8", "--train-langs", "de", "fr", "--no-pack",
                    "--max-steps", "5"])
    path = tmp_path / "train_config.json"
    config.save(path)
    written = json.loads(path.read_text())
    assert written["schema_version"] == 3
    assert written["batching"]["batch_size"] == 8 and written["data"]["train_langs"] == ["de", "fr"]
    assert written["max_steps"] == 5 and "batch_size" not in written
    assert set(written) == {"schema_version", *(f.name for f in dataclasses.fields(TrainConfig))}
    assert TrainConfig.load(path) == config
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("version", [{"schema_version": 2}, {}], ids=["schema-2", "unversioned"])
def test_a_flat_schema_2_file_loads_into_the_same_config(tmp_path, version):
    config = parse(["--batch-size", "8", "--train-langs", "de", "fr", "--no-pack",
                    "--learning-rate", "1e-3", "--save-total-limit", "3"])
    flat = {**version, **config.flat_dict()}
    assert "data" not in flat and flat["batch_size"] == 8
    path = tmp_path / "train_config.json"
    path.write_text(json.dumps(flat))
    assert TrainConfig.load(path) == config
    del flat["consistency_weight"]  # an option added after the file was written
    path.write_text(json.dumps(flat))
    assert TrainConfig.load(path).optimisation.consistency_weight == 1.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"schema_version": 7, "seed": 1}, "schema version 7 is not one this swiss-ner reads"),
        ({"schema_version": 2, "batch_sise": 8}, "unknown option batch_sise"),
        ({"schema_version": 3, "data": {"langs": ["de"]}, "batch_size": 8},
         "unknown key batch_size"),
        ({"schema_version": 3, "batching": 8}, "section 'batching' is not an object"),
    ],
)
def test_another_schema_or_layout_is_refused_in_one_line_naming_the_file(tmp_path, values,
                                                                         message):
    path = tmp_path / "train_config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=message) as error:
        TrainConfig.load(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_a_bad_option_is_one_line_and_exit_status_2(capsys):
    assert main(["train", "--batch-size", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "swiss-ner: error: --batch-size must be at least 1, got 0\n"


@pytest.mark.parametrize("command", ["tag", "tag-corpus", "serve"])
def test_bfloat16_or_compile_with_int8_is_refused_by_every_tagging_command(command, capsys):
    inputs = ["in.jsonl", "-o", "out"] if command == "tag-corpus" else []
    argv = [command, *inputs, "--model", "m", "--dtype", "bfloat16", "--quantize"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "swiss-ner: error: --quantize runs int8 Linear layers; drop it or --dtype bfloat16\n"
    )
    assert main([command, *inputs, "--model", "m", "--compile", "--quantize"]) == 2
    assert capsys.readouterr().err == (
        "swiss-ner: error: --quantize runs int8 Linear layers, which torch.compile does not "
        "take; drop it or --compile\n"
    )
