"""Checkpoints: resume refusals that name the cause, a full disk, and the output-folder lock."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from swiss_ner import checkpoints as ckpt
from swiss_ner.config import TrainConfig


def config_of(**options) -> TrainConfig:
    """A configuration from options named as on the command line."""
    return TrainConfig.from_flat(options)


def save_state(output_dir: Path, steps: int, config: TrainConfig, with_options=True) -> Path:
    """A checkpoint folder holding only its training state (enough to find it)."""
    folder = output_dir / ckpt.CHECKPOINTS_DIR / ckpt.checkpoint_name(steps)
    folder.mkdir(parents=True)
    state = ckpt.TrainingState.for_run(config.flat_dict())
    state.completed_steps = steps
    if not with_options:
        state.options = {}
    state.save(folder)
    return folder


def test_the_fingerprint_is_the_hash_of_the_stored_options():
    values = config_of(learning_rate=1e-3).flat_dict()
    kept = {k: v for k, v in sorted(values.items()) if k not in ckpt.NON_TRAINING_FIELDS}
    expected = hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]
    state = ckpt.TrainingState.for_run(values)
    assert state.fingerprint == ckpt.config_fingerprint(values) == expected
    assert state.options == kept and "output_dir" not in state.options


def test_resume_with_a_changed_option_names_the_checkpoints_and_the_options(tmp_path):
    saved = config_of(output_dir=str(tmp_path), learning_rate=1e-3, train_langs=["de", "fr"])
    for steps in (4, 6):
        save_state(tmp_path, steps, saved)
    now = config_of(output_dir=str(tmp_path), learning_rate=5e-5)
    values = now.flat_dict()
    with pytest.raises(ckpt.CheckpointError) as error:
        ckpt.find_checkpoint(tmp_path, "latest", ckpt.config_fingerprint(values),
                             ckpt.training_options(values))
    message = str(error.value)
    assert "holds checkpoints (step_4, step_6) of a run with other training options" in message
    assert "--learning-rate 5e-05 (checkpoint: 0.001)" in message
    assert "--train-langs de (checkpoint: de fr)" in message
    assert "--overwrite-output-dir" in message and "no checkpoint of this run" not in message
    folder = tmp_path / ckpt.CHECKPOINTS_DIR / "step_4"
    with pytest.raises(ckpt.CheckpointError, match=f"{folder} belongs to a run with other .*"
                                                   r"--learning-rate 5e-05 \(checkpoint: 0.001\)"):
        ckpt.find_checkpoint(tmp_path, str(folder), ckpt.config_fingerprint(values),
                             ckpt.training_options(values))
    same = saved.flat_dict()
    assert ckpt.find_checkpoint(tmp_path, "latest", ckpt.config_fingerprint(same)).name == "step_6"


# The training_state.json a run with --learning-rate 1e-3 --train-langs de fr wrote while the
# configuration was flat (schema 2): options by command-line name, and their fingerprint.
SCHEMA_2_OPTIONS = {
    "batch_size": 24, "compile": "no", "consistency_weight": 1.0, "cpu": False, "data_dir": None,
    "eval_split": "validation", "fracs": [0.629, 0.229, 0.084, 0.059], "fused_adamw": True,
    "gradient_accumulation_steps": 1, "group_by_length": None, "label_all_tokens": True,
    "label_names": None, "langs": ["de", "fr", "it", "en"], "learning_rate": 0.001,
    "length_group_size": 8, "matmul_precision": "highest", "max_grad_norm": 1.0,
    "max_length": 512, "max_train_samples": None, "mixed_precision": None,
    "model_name_or_path": "FacebookAI/xlm-roberta-base", "pack": None, "pad_to": None,
    "seed": 42, "tag_column": None, "tag_scheme": "iob2", "train_langs": ["de", "fr"],
    "warmup_ratio": 0.0, "weight_decay": 0.01,
}
SCHEMA_2_FINGERPRINT = "b2fc82d30cf334a8"


def test_a_checkpoint_written_with_the_flat_schema_2_configuration_resumes(tmp_path):
    folder = tmp_path / ckpt.CHECKPOINTS_DIR / "step_8"
    folder.mkdir(parents=True)
    state = {"fingerprint": SCHEMA_2_FINGERPRINT, "epoch": 0, "batches_done_in_epoch": 8,
             "completed_steps": 8, "elapsed_s": 1.5, "epoch_loss_sum": 4.0, "epoch_batches": 8,
             "history": [], "options": SCHEMA_2_OPTIONS}
    (folder / ckpt.STATE_FILE).write_text(json.dumps(state))
    nested = config_of(output_dir=str(tmp_path), learning_rate=1e-3, train_langs=["de", "fr"])
    assert nested.optimisation.learning_rate == 1e-3, "the option sits in its section now"
    fresh = ckpt.TrainingState.for_run(nested.flat_dict())
    assert fresh.options == SCHEMA_2_OPTIONS, "checkpoints store options by command-line name"
    assert fresh.fingerprint == SCHEMA_2_FINGERPRINT
    assert ckpt.find_checkpoint(tmp_path, "latest", fresh.fingerprint, fresh.options) == folder
    other = config_of(output_dir=str(tmp_path), learning_rate=1e-3).flat_dict()
    with pytest.raises(ckpt.CheckpointError, match=r"--train-langs de \(checkpoint: de fr\)"):
        ckpt.find_checkpoint(tmp_path, "latest", ckpt.config_fingerprint(other),
                             ckpt.training_options(other))


def test_checkpoints_without_stored_options_still_resume_and_say_so(tmp_path):
    config = config_of(output_dir=str(tmp_path))
    folder = save_state(tmp_path, 3, config, with_options=False)
    state_file = folder / ckpt.STATE_FILE
    old = json.loads(state_file.read_text())
    del old["options"]  # as written before the options were stored
    state_file.write_text(json.dumps(old))
    values = config.flat_dict()
    assert ckpt.find_checkpoint(tmp_path, "latest", ckpt.config_fingerprint(values)) == folder
    other = config_of(output_dir=str(tmp_path), seed=7).flat_dict()
    with pytest.raises(ckpt.CheckpointError, match="does not record its options"):
        ckpt.find_checkpoint(tmp_path, "latest", ckpt.config_fingerprint(other),
                             ckpt.training_options(other))


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", '{"completed_steps": "six"}'])
def test_a_garbage_training_state_is_named_as_corrupt(tmp_path, garbage):
    config = config_of(output_dir=str(tmp_path))
    fingerprint = ckpt.config_fingerprint(config.flat_dict())
    previous = save_state(tmp_path, 4, config)
    newest = save_state(tmp_path, 6, config)
    (newest / ckpt.STATE_FILE).write_text(garbage)
    with pytest.raises(ckpt.CheckpointError) as error:
        ckpt.find_checkpoint(tmp_path, "latest", fingerprint)
    assert f"checkpoint {newest} is corrupt: training_state.json is unreadable" in str(error.value)
    assert f"--resume-from {previous}" in str(error.value)
    with pytest.raises(ckpt.CheckpointError, match=f"checkpoint {newest} is corrupt"):
        ckpt.find_checkpoint(tmp_path, str(newest), fingerprint)
    (previous / ckpt.STATE_FILE).write_text(garbage)
    with pytest.raises(ckpt.CheckpointError, match=f"{newest} is corrupt") as error:
        ckpt.find_checkpoint(tmp_path, "latest", fingerprint)
    assert "--resume-from" not in str(error.value).split("corrupt", 1)[1]


def test_an_empty_folder_has_no_checkpoint_to_resume(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="no checkpoint in"):
        ckpt.find_checkpoint(tmp_path, "latest", "abc")


# --- writing checkpoints: a full disk ---------------------------------------------------------


@pytest.fixture
def accelerator_parts():
    """A prepared Linear model (160 KB of weights) with AdamW after one step: checkpoints of
    about 0.5 MB."""
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(200, 200)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 200)).sum().backward()
    optimizer.step()
    model, optimizer = accelerator.prepare(model, optimizer)
    return accelerator, model, optimizer


@pytest.fixture
def small_disk(tmp_path, request):
    """A tmpfs of the requested size, mounted for the test (skipped where mounting fails)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={request.param}", "tmpfs",
                           str(mount_point)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    yield mount_point
    # Lazily: weights loaded from the disk may still be memory-mapped by this process.
    subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


@pytest.mark.parametrize(
    ("small_disk", "saved_first"), [("100k", 0), ("700k", 1)], indirect=["small_disk"]
)
def test_a_full_disk_ends_in_one_line_and_leaves_the_folder_resumable(
    accelerator_parts, small_disk, saved_first
):
    accelerator, model, optimizer = accelerator_parts
    written = []
    with pytest.raises(ckpt.CheckpointError) as error:
        for steps in (2, 4, 6):
            state = ckpt.TrainingState(fingerprint="f", completed_steps=steps)
            written.append(ckpt.save_checkpoint(accelerator, small_disk, state, keep=2))
    assert len(written) == saved_first
    message = str(error.value)
    assert message.startswith(f"cannot write {small_disk}/checkpoints/step_{2 * saved_first + 2}")
    assert "no space left on device" in message and "\n" not in message
    assert "--save-total-limit 2 + 1 = 3 checkpoints" in message
    root = small_disk / ckpt.CHECKPOINTS_DIR
    assert sorted(path.name for path in root.iterdir()) == [path.name for path in written]
    if written:
        assert f"resume from {written[-1]} with --resume-from latest" in message
        assert ckpt.find_checkpoint(small_disk, "latest", "f") == written[-1]
        assert ckpt.load_checkpoint(accelerator, written[-1]).completed_steps == 2
    else:
        assert "no checkpoint to resume from yet" in message
    warning = ckpt.space_warning(small_disk, ckpt.estimate_checkpoint_bytes(model, optimizer), 2)
    assert warning is not None and "--save-total-limit 2 + 1" in warning


class FailingAccelerator:
    """Writes part of a checkpoint, then fails the way a full (or read-only) disk does."""

    is_main_process = True

    def __init__(self, error: OSError) -> None:
        self.error = error

    def wait_for_everyone(self) -> None:
        pass

    def save_state(self, folder: str) -> None:
        Path(folder).mkdir(parents=True)
        (Path(folder) / "model.safetensors").write_bytes(b"\0" * 100)
        raise self.error


@pytest.mark.parametrize(("error", "cause"), [
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on device; the disk"),
    (OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
])
def test_a_failed_write_removes_the_partial_folder_and_names_the_cause(tmp_path, error, cause):
    config = config_of(output_dir=str(tmp_path))
    previous = save_state(tmp_path, 2, config)
    state = ckpt.TrainingState(fingerprint="f", completed_steps=4)
    with pytest.raises(ckpt.CheckpointError) as raised:
        ckpt.save_checkpoint(FailingAccelerator(error), tmp_path, state, keep=None)
    message = str(raised.value)
    assert message.startswith(f"cannot write {tmp_path}/checkpoints/step_4: {cause}")
    assert f"resume from {previous}" in message
    assert not list((tmp_path / ckpt.CHECKPOINTS_DIR).glob(ckpt.PARTIAL_PREFIX + "*"))


def test_errors_that_are_not_failed_writes_pass_unchanged(tmp_path):
    with pytest.raises(KeyError), ckpt.reported_write(tmp_path / "model", tmp_path, 2):
        raise KeyError("not a write")


def test_the_estimate_matches_a_written_checkpoint(tmp_path, accelerator_parts):
    accelerator, model, optimizer = accelerator_parts
    fresh = ckpt.estimate_checkpoint_bytes(model, torch.optim.AdamW(model.parameters()))
    stepped = ckpt.estimate_checkpoint_bytes(model, optimizer)
    state = ckpt.TrainingState(fingerprint="f", completed_steps=1)
    folder = ckpt.save_checkpoint(accelerator, tmp_path, state, keep=2)
    on_disk = sum(path.stat().st_size for path in folder.iterdir())
    assert fresh == pytest.approx(stepped, rel=1e-3)
    assert 0.8 * on_disk < stepped < 1.2 * on_disk
    assert ckpt.space_warning(tmp_path, stepped, 2) is None
    assert ckpt.space_warning(tmp_path, 2**60, None) is None
    warning = ckpt.space_warning(tmp_path / "not-yet", 2**60, 2)
    assert warning.startswith("warning: ") and "--save-total-limit 2 + 1" in warning


# --- the output-folder lock -------------------------------------------------------------------


HOLDER = """
import sys
from swiss_ner.checkpoints import output_folder_lock
with output_folder_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_run_into_a_folder_in_use_stops_at_once_naming_the_other(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ckpt.OutputFolderInUse) as error, ckpt.output_folder_lock(tmp_path):
            pass
        assert str(error.value).startswith(f"{tmp_path} is in use by another swiss-ner run")
        assert f"process {holder.pid} on " in str(error.value)
    finally:
        holder.kill()  # a killed run leaves no stale lock
        holder.wait()
    with ckpt.output_folder_lock(tmp_path):
        assert json.loads((tmp_path / "checkpoints" / ckpt.OWNER_FILE).read_text())["pid"] == (
            os.getpid()
        )
        ckpt.refuse_foreign_checkpoints(tmp_path, overwrite=False)  # lock files are no checkpoints
        save_state(tmp_path, 2, config_of())
        ckpt.refuse_foreign_checkpoints(tmp_path, overwrite=True)
        assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
            ckpt.LOCK_FILE, ckpt.OWNER_FILE
        ]
    assert not (tmp_path / "checkpoints" / ckpt.OWNER_FILE).exists()
