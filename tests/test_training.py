"""The training loop: what a run writes, resuming, several processes, and runs that must stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForTokenClassification

from swiss_ner.checkpoints import CHECKPOINTS_DIR, STATE_FILE, CheckpointError, TrainingState
from swiss_ner.cli import main
from swiss_ner.config import ConfigError, TrainConfig
from swiss_ner.modeling import build_model
from swiss_ner.results import Batching, RunResults
from swiss_ner.training import (
    TrainingError,
    batch_padding,
    check_packing,
    resolve_batching,
    train,
    word_consistency_loss,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_training_lowers_loss_and_writes_everything(trained_run):
    output_dir, results = trained_run
    losses = [epoch.train_loss for epoch in results.history]
    assert losses[-1] < losses[0]
    for name in ("model.safetensors", "config.json", "results.json", "train_config.json",
                 "README.md", "tokenizer.json"):
        assert (output_dir / name).exists(), name
    states = [TrainingState.load(p.parent)
              for p in (output_dir / CHECKPOINTS_DIR).glob("step_*/training_state.json")]
    assert max(state.completed_steps for state in states) == results.train_steps
    assert len(states) <= 2, "--save-total-limit 2 keeps the newest two"
    assert list((output_dir / "logs").rglob("events.out.tfevents*")), "no TensorBoard events"
    saved = RunResults.load(output_dir)
    assert saved == results
    assert saved.train_langs == ["de"]
    assert saved.zero_shot_langs == ["fr", "it", "en"]
    assert set(saved.metrics) == {"de", "fr", "it", "en"}
    de = saved.metrics["de"]
    assert de.num_sentences == 200 and de.f1 > 0.0
    assert de.f1_ci.low <= de.f1 <= de.f1_ci.high
    assert set(de.per_type) == {"PER", "ORG", "LOC"}
    assert 0.0 < de.subword_agreement <= 1.0
    for lang, scores in saved.metrics.items():
        assert 0.0 <= scores.whole_word_groups <= 1.0, lang
        assert scores.simple_groups > 0, lang
    assert saved.test_metrics == {}, "the shared PAN-X folder has no test split"
    assert saved.config.optimisation.learning_rate == 3e-3
    assert saved.batching == Batching(group_by_length=False, pack=True), "the CPU's defaults"
    assert saved.config.batching.pack is None, "the options as given, so a rerun matches them"
    assert saved.config.device.matmul_precision == "highest", "full float32 unless asked"
    written = json.loads((output_dir / "train_config.json").read_text())
    assert written["schema_version"] == 3 and written["data"]["train_langs"] == ["de"]
    assert TrainConfig.load(output_dir / "train_config.json") == saved.config
    assert "transformers" in saved.versions
    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"]["1"] == "B-PER"
    assert config["architectures"] == ["XLMRobertaForTokenClassification"]


SHORT = {"num_epochs": 1, "max_train_samples": 320, "eval_langs": ["de"]}


@pytest.fixture(scope="module")
def short_default_run(train_config_factory):
    """The short run with the default options, which each variant below is compared with."""
    return train(train_config_factory(**SHORT))


@pytest.mark.parametrize(
    "options",
    [{"pack": False, "group_by_length": False}, {"compile": "default"},
     {"matmul_precision": "medium"}],
    ids=["unpacked", "compile", "bf16-products"],
)
def test_unpacked_or_compiled_runs_learn_like_the_default_and_save_stock_weights(
    train_config_factory, short_default_run, options
):
    """Packing changes only which padding is computed; compiling only how the kernels run;
    bfloat16 products only the rounding of the matrix products' inputs."""
    default = short_default_run
    config = train_config_factory(**SHORT, **options)
    varied = train(config)
    assert torch.get_float32_matmul_precision() == config.device.matmul_precision
    assert varied.config.device.matmul_precision == config.device.matmul_precision
    assert varied.history[0].train_loss == pytest.approx(default.history[0].train_loss, rel=0.05)
    model = AutoModelForTokenClassification.from_pretrained(config.output_dir)
    saved = load_file(Path(config.output_dir) / "model.safetensors")
    assert not any(name.startswith("_orig_mod") for name in saved), "no compile wrapper names"
    assert model.classifier.weight.shape == (7, model.config.hidden_size)


def test_saved_model_loads_in_stock_transformers(trained_model_dir):
    model = AutoModelForTokenClassification.from_pretrained(trained_model_dir)
    assert type(model).__name__ == "XLMRobertaForTokenClassification"


def assert_same_weights(folder_a: Path, folder_b: Path) -> None:
    weights_a = load_file(Path(folder_a) / "model.safetensors")
    weights_b = load_file(Path(folder_b) / "model.safetensors")
    for name, tensor in weights_a.items():
        torch.testing.assert_close(weights_b[name], tensor, rtol=0, atol=0, msg=name)


RESUME = dict(max_steps=40, checkpointing_steps=10, eval_langs=["de"], max_eval_samples=40,
              save_total_limit=None)


@pytest.fixture(scope="module")
def uninterrupted(train_config_factory):
    """40 steps over 30-batch epochs, checkpoints every 10 steps (step 20 lies mid-epoch)."""
    config = train_config_factory(**RESUME)
    return config, train(config)


def test_resume_continues_at_the_next_step_with_the_same_data(train_config_factory,
                                                              uninterrupted):
    full, full_results = uninterrupted
    checkpoint = Path(full.output_dir) / CHECKPOINTS_DIR / "step_20"
    state = TrainingState.load(checkpoint)
    assert (state.epoch, state.batches_done_in_epoch, state.completed_steps) == (0, 20, 20)

    resumed = train_config_factory(**RESUME, resume_from=str(checkpoint))
    resumed_results = train(resumed)
    assert resumed_results.train_steps == full_results.train_steps == 40
    assert [h.step for h in resumed_results.history] == [30, 40], "history survives a resume"
    assert resumed_results.history[0] == full_results.history[0]
    assert_same_weights(full.output_dir, resumed.output_dir)


def test_max_steps_extension_resumes_inside_the_epoch(train_config_factory):
    short = train_config_factory(**{**RESUME, "max_steps": 35})
    train(short)
    state = TrainingState.load(Path(short.output_dir) / CHECKPOINTS_DIR / "step_35")
    assert (state.epoch, state.batches_done_in_epoch) == (1, 5), "stopped mid-epoch, not done"
    before = load_file(Path(short.output_dir) / "model.safetensors")
    extended = train_config_factory(**RESUME, output_dir=short.output_dir, resume_from="latest")
    results = train(extended)
    assert results.train_steps == 40
    assert [h.step for h in results.history] == [30, 35, 40]
    after = load_file(Path(short.output_dir) / "model.safetensors")
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"]), "trained"


def test_a_new_run_refuses_a_folder_with_another_runs_checkpoints(train_config_factory,
                                                                  uninterrupted):
    full, _ = uninterrupted
    other = train_config_factory(**{**RESUME, "learning_rate": 1e-3}, output_dir=full.output_dir)
    with pytest.raises(CheckpointError, match="already holds checkpoints"):
        train(other)
    changed = r"other training options.*--learning-rate 0.001 \(checkpoint: 0.003\)"
    with pytest.raises(CheckpointError, match=changed):
        train(train_config_factory(**{**RESUME, "learning_rate": 1e-3},
                                   output_dir=full.output_dir, resume_from="latest"))


def test_corrupt_latest_checkpoint_names_the_file_and_the_previous_one(train_config_factory,
                                                                       uninterrupted, tmp_path):
    import shutil

    full, _ = uninterrupted
    copy = tmp_path / "run"
    shutil.copytree(full.output_dir, copy)
    latest = copy / CHECKPOINTS_DIR / "step_40"
    for weights in latest.glob("*.safetensors"):
        weights.write_bytes(weights.read_bytes()[:100])
    config = train_config_factory(**RESUME, output_dir=str(copy), resume_from="latest")
    corrupt = r"step_40/model.safetensors is corrupt.*--resume-from .*step_30"
    with pytest.raises(CheckpointError, match=corrupt):
        train(config)


def test_non_finite_loss_stops_the_run(train_config_factory):
    config = train_config_factory(learning_rate=1e4, max_steps=30, log_every=5,
                                  eval_langs=["de"], max_eval_samples=20)
    with pytest.raises(TrainingError, match=r"non-finite .* at step \d+; lower --learning-rate"):
        train(config)
    assert not (Path(config.output_dir) / "model.safetensors").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--num-epochs", "0"], "--num-epochs must be at least 1"),
        (["--max-steps", "-5"], "--max-steps must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--learning-rate", "-1"], "--learning-rate must be greater than 0"),
        (["--gradient-accumulation-steps", "0"], "--gradient-accumulation-steps must be at"),
        (["--fracs", "0", "1", "1", "1"], r"--fracs must lie in \(0, 1\]"),
        (["--fracs", "1.5", "1", "1", "1"], r"--fracs must lie in \(0, 1\]"),
        (["--max-train-samples", "0"], "--max-train-samples must be at least 1"),
        (["--hub-model-id", "bad id with spaces"], "--hub-model-id 'bad id with spaces' is not"),
        (["--train-langs", "rm"], "'rm' is not in --langs"),
        (["--label-names", "O", "B-PER", "I-PER", "E-PER", "S-PER"],
         "'E-PER' is not an IOB2 label .*--tag-scheme bioes"),
        (["--tag-scheme", "iob1"], "--tag-scheme and --tag-column describe the files in"),
        (["--data-dir", ".", "--tag-column", "1"], "--tag-column must be at least 2"),
    ],
)
def test_bad_options_fail_in_one_line_before_training(argv, message, capsys, tmp_path):
    status = main(["train", "--output-dir", str(tmp_path), *argv])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("swiss-ner: error:") and "\n" not in err
    assert __import__("re").search(message, err), err


def test_model_folder_without_tokenizer_is_refused(train_config_factory, small_model_dir,
                                                   tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bare / name).write_bytes((small_model_dir / name).read_bytes())
    config = train_config_factory(model_name_or_path=str(bare))
    assert main(["train", "--model", str(bare), "--data-dir", config.data.data_dir,
                 "--output-dir", str(tmp_path / "out")]) == 1
    assert "has no tokenizer files" in capsys.readouterr().err


def test_help_explains_the_options():
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "train.py"), "--help"],
        capture_output=True, text=True, check=True,
    )
    for option in ("--train-langs", "--resume-from", "--group-by-length", "--log-every"):
        assert option in result.stdout
    assert "concatenated" in result.stdout


def run_cli(config, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "swiss_ner.cli", "train",
        "--model", config.model_name_or_path, "--data-dir", config.data.data_dir,
        "--output-dir", config.output_dir, "--max-length", "64", "--batch-size", "16",
        "--learning-rate", "3e-3", "--max-train-samples", "480", "--eval-langs", "de",
        "--max-eval-samples", "40", "--report-to", "none", "--num-threads", "1", *extra,
    ]  # fmt: skip


def wait_for_checkpoint(folder: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not list((folder / CHECKPOINTS_DIR).glob("step_*/training_state.json")):
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.2)


# Runs `swiss-ner` with the loop stalled for good before step STALL_AFTER + 1, once MARK exists:
# a kill then always lands mid-run, after the checkpoints before that step, never after the end.
STALLING_CLI = """
import os, sys, time
from swiss_ner.training import loop
real_step, calls = loop.train_step, []
def stalling_step(state, batch):
    calls.append(1)
    if len(calls) > int(os.environ["STALL_AFTER"]):
        open(os.environ["STALL_MARK"], "w").close()
        time.sleep(3600)
    return real_step(state, batch)
loop.train_step = stalling_step
from swiss_ner.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_mid_epoch_then_resume_is_bit_identical(train_config_factory, uninterrupted,
                                                        tmp_path):
    full, _ = uninterrupted
    config = train_config_factory(**RESUME)
    mark = tmp_path / "stalled"
    command = run_cli(config, "--max-steps", "40", "--checkpointing-steps", "5")
    process = subprocess.Popen([sys.executable, "-c", STALLING_CLI, *command[3:]],
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "STALL_AFTER": "12", "STALL_MARK": str(mark)})
    deadline = time.time() + 120
    while not mark.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.time() < deadline, "the run never reached step 12"
        time.sleep(0.2)
    process.kill()
    process.wait()
    saved = (Path(config.output_dir) / CHECKPOINTS_DIR).glob(f"step_*/{STATE_FILE}")
    steps = sorted(TrainingState.load(path.parent).completed_steps for path in saved)
    assert steps == [5, 10], "killed inside step 13, after the checkpoints of steps 5 and 10"
    assert not (Path(config.output_dir) / "results.json").exists()
    resumed = subprocess.run(run_cli(config, "--max-steps", "40", "--checkpointing-steps", "10",
                                     "--resume-from", "latest"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_weights(full.output_dir, config.output_dir)


def test_sigterm_saves_a_checkpoint_and_exits_non_zero(train_config_factory):
    config = train_config_factory(**RESUME)
    process = subprocess.Popen(run_cli(config, "--max-steps", "200", "--checkpointing-steps", "3"),
                               stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(Path(config.output_dir), process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "stopped by signal SIGTERM" in err and "--resume-from latest" in err
    folder = Path(config.output_dir) / CHECKPOINTS_DIR
    assert not list(folder.glob(".partial-*")), "a checkpoint was left half-written"
    newest = max(TrainingState.load(p).completed_steps for p in folder.glob("step_*"))
    assert 0 < newest < 200
    assert not (Path(config.output_dir) / "results.json").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_evaluate_each_sentence_once(train_config_factory):
    config = train_config_factory(max_steps=4, eval_langs=["de", "fr"], max_eval_samples=101)
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun), "--nproc_per_node", "2", "--master_port", str(free_port()),
        str(PROJECT_ROOT / "scripts" / "train.py"),
        "--model", config.model_name_or_path, "--data-dir", config.data.data_dir,
        "--output-dir", config.output_dir, "--max-steps", "4", "--batch-size", "8",
        "--max-length", "64", "--eval-langs", "de", "fr", "--max-train-samples", "200",
        "--max-eval-samples", "101", "--report-to", "none", "--cpu",
    ]  # fmt: skip
    # --cpu and no visible GPU: two gloo processes even on a machine with one GPU.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = RunResults.load(config.output_dir)
    assert results.num_processes == 2
    assert results.metrics["de"].num_sentences == 101
    assert results.metrics["fr"].num_sentences == 101
    assert results.train_steps == 4


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


def test_batching_defaults_follow_the_device_and_yield_to_explicit_options():
    config = TrainConfig()
    assert resolve_batching(config, "cpu", "no") == Batching(group_by_length=False, pack=True)
    assert resolve_batching(config, "cuda", "no") == Batching(group_by_length=True, pack=False)
    both = TrainConfig.from_flat({"pack": True, "group_by_length": True})
    assert resolve_batching(both, "cuda", "no") == Batching(True, True)
    assert resolve_batching(config, "cuda", "bf16").pad_to == 8, "tensor-core multiples"


def test_packing_refuses_an_attention_that_cannot_read_its_mask(small_model_dir):
    model = build_model(str(small_model_dir), ["O", "B-PER", "I-PER"])
    check_packing(model, pack=True)
    check_packing(model, pack=False)
    model.config._attn_implementation = "eager"
    with pytest.raises(ConfigError, match="--pack needs the model's attention to be 'sdpa'"):
        check_packing(model, pack=True)
    check_packing(model, pack=False)


def test_batches_are_padded_to_few_shapes_where_kernels_are_built_per_shape():
    def config(**options) -> TrainConfig:
        return TrainConfig.from_flat(options)

    assert batch_padding(config(), "no") is None
    assert batch_padding(config(matmul_precision="medium"), "no") == 8
    assert batch_padding(config(), "bf16") == 8
    assert batch_padding(config(compile="reduce-overhead"), "bf16") == 32
    assert batch_padding(config(matmul_precision="medium", pad_to=16), "no") == 16


def test_matmul_precision_outside_the_choices_is_refused(train_config_factory):
    with pytest.raises(ConfigError, match="--matmul-precision must be one of highest, high"):
        train_config_factory(matmul_precision="low").validate()


@pytest.mark.parametrize("value", ["yes", False])
def test_compile_mode_outside_the_choices_is_refused(train_config_factory, value):
    """A config written before --compile took a mode (a bool) must not compile silently."""
    with pytest.raises(ConfigError, match="--compile must be one of no, default"):
        train_config_factory(compile=value).validate()


def test_a_local_base_model_is_recorded_as_local_wherever_the_card_is_written(trained_run,
                                                                              tmp_path):
    from swiss_ner.model_card import write_model_card

    output_dir, results = trained_run
    assert results.base_model is None, "trained from a local folder"
    copy = tmp_path / "elsewhere"
    import shutil

    shutil.copytree(output_dir, copy, ignore=shutil.ignore_patterns("checkpoints", "logs"))
    # A relative path that exists nowhere here: only the recorded base_model says "local".
    results = RunResults.from_dict(results.to_dict())
    results.config.model_name_or_path = "models/xlmr-small"
    results.save(copy / "results.json")
    card = write_model_card(copy).read_text()
    assert "base_model:" not in card.split("---")[1]


# --- the data formats users have, a busy output folder, a SIGTERM after the save ------------


@pytest.fixture(scope="module")
def iob2_sample_run(train_config_factory, panx_dir, tmp_path_factory):
    """PAN-X sentences as IOB2 TSV, and the run record of three steps on them."""
    from formats import panx_sample, write_panx_as

    sample = panx_sample(panx_dir, 300)
    folder = write_panx_as(tmp_path_factory.mktemp("iob2"), sample, "iob2")
    results = train(train_config_factory(
        langs=["de"], fracs=[1.0], eval_langs=["de"], max_steps=3, max_train_samples=None,
        max_eval_samples=None, data_dir=str(folder)))
    return sample, results


@pytest.mark.parametrize(("scheme", "conll"), [("iob1", False), ("bioes", False), ("iob1", True)])
def test_iob1_bioes_and_conll_files_train_to_the_iob2_entity_counts(
    train_config_factory, iob2_sample_run, tmp_path, scheme, conll
):
    from formats import write_panx_as

    sample, reference = iob2_sample_run
    folder = write_panx_as(tmp_path / scheme, sample, scheme, conll)
    args = ["train", "--model", str(train_config_factory().model_name_or_path), "--data-dir",
            str(folder), "--tag-scheme", scheme, "--langs", "de", "--fracs", "1.0",
            "--eval-langs", "de", "--max-steps", "3", "--batch-size", "16", "--max-length", "64",
            "--report-to", "none", "--num-threads", "1", "--output-dir", str(tmp_path / "run")]
    assert main(args) == 0
    results = RunResults.load(tmp_path / "run" / "results.json")
    assert results.dataset.entity_counts == reference.dataset.entity_counts
    assert results.dataset.entity_counts["de"]["train"]["PER"] > 100
    assert results.label_names == reference.label_names


def test_a_second_run_into_a_folder_in_use_stops_at_once(train_config_factory):
    from swiss_ner.checkpoints import output_folder_lock

    config = train_config_factory(max_steps=2)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from swiss_ner.checkpoints import output_folder_lock\n"
        "with output_folder_lock(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()"
    ), config.output_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(RuntimeError, match=f"in use by another swiss-ner run .process "
                                               f"{holder.pid} on "):
            train(config)
    finally:
        holder.kill()
        holder.wait()
    with output_folder_lock(config.output_dir):
        pass  # the loser left the lock alone, and the killed holder left none behind


def test_a_sigterm_after_the_model_is_saved_ends_the_run_with_status_zero(train_config_factory):
    config = train_config_factory()
    process = subprocess.Popen(run_cli(config, "--max-steps", "3", "--report-to", "tensorboard"),
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith("Saved model"):
            process.send_signal(signal.SIGTERM)
            break
    rest, _ = process.communicate(timeout=120)
    assert process.returncode == 0, rest
    assert (Path(config.output_dir) / "results.json").exists()
