"""What a checkpoint is, which one to resume, and writing one so that it is never half there.

A checkpoint is accelerate's ``save_state`` folder (model, optimizer, scheduler, RNG states)
plus ``training_state.json``: the steps done, the position inside the epoch, the history and
elapsed time so far, and the fingerprint of the run's configuration. Folders are named by
step (``step_N``), so two checkpoints never tie, and ``latest`` means the most steps of *this*
run: a checkpoint with another fingerprint is never resumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINTS_DIR = "checkpoints"
STATE_FILE = "training_state.json"
PARTIAL_PREFIX = ".partial-"

# Options that do not change what is trained: a run may be resumed or extended with others.
NON_TRAINING_FIELDS: frozenset[str] = frozenset(
    {
        "output_dir", "resume_from", "overwrite_output_dir", "checkpointing_steps",
        "save_total_limit", "report_to", "num_workers", "push_to_hub", "hub_model_id",
        "hub_private", "eval_batch_size", "log_every", "max_steps", "num_epochs",
        "eval_langs", "max_eval_samples", "num_threads",
    }
)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names it and what to do instead."""


def config_fingerprint(config_values: dict[str, Any]) -> str:
    """A short hash of the options that decide the training trajectory."""
    kept = {k: v for k, v in sorted(config_values.items()) if k not in NON_TRAINING_FIELDS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class TrainingState:
    """Where the loop stands; saved inside each checkpoint so a resume starts at the next step."""

    fingerprint: str = ""
    epoch: int = 0
    batches_done_in_epoch: int = 0
    completed_steps: int = 0
    elapsed_s: float = 0.0
    epoch_loss_sum: float = 0.0
    epoch_batches: int = 0
    history: list[dict] = field(default_factory=list)

    def save(self, folder: Path) -> None:
        (folder / STATE_FILE).write_text(json.dumps(dataclasses.asdict(self)) + "\n")

    @classmethod
    def load(cls, folder: Path) -> TrainingState:
        path = folder / STATE_FILE
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise CheckpointError(f"{path} is unreadable ({error})") from None


def checkpoint_name(steps: int) -> str:
    return f"step_{steps}"


def list_checkpoints(output_dir: str | Path) -> list[tuple[TrainingState, Path]]:
    """Every complete checkpoint in ``output_dir``, fewest steps first (unreadable ones skipped)."""
    found = []
    for state_file in (Path(output_dir) / CHECKPOINTS_DIR).glob(f"step_*/{STATE_FILE}"):
        try:
            found.append((TrainingState.load(state_file.parent), state_file.parent))
        except CheckpointError:
            continue
    return sorted(found, key=lambda item: item[0].completed_steps)


def find_checkpoint(output_dir: str | Path, resume_from: str, fingerprint: str) -> Path:
    """The checkpoint to resume: a folder, or ``latest``, this run's checkpoint with most steps."""
    if resume_from != "latest":
        folder = Path(resume_from)
        state = TrainingState.load(folder)
        if state.fingerprint != fingerprint:
            raise CheckpointError(
                f"{folder} belongs to a run with other training options; resume with the "
                "options it was saved with (see train_config.json of that run)"
            )
        return folder
    own = [path for state, path in list_checkpoints(output_dir) if state.fingerprint == fingerprint]
    if not own:
        raise CheckpointError(
            f"--resume-from latest: no checkpoint of this run in {output_dir}/{CHECKPOINTS_DIR}"
        )
    return own[-1]


def refuse_foreign_checkpoints(output_dir: str | Path, overwrite: bool) -> None:
    """Stop a fresh run in a folder that holds checkpoints, unless asked to overwrite them."""
    folder = Path(output_dir) / CHECKPOINTS_DIR
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if overwrite:
        shutil.rmtree(folder)
        return
    raise CheckpointError(
        f"{folder} already holds checkpoints; pass --resume-from latest to continue that run "
        "or --overwrite-output-dir to start afresh"
    )


def _unreadable_file(folder: Path) -> Path:
    """The first file of a checkpoint that does not open (the folder when each one does)."""
    import torch
    from safetensors import safe_open

    for path in sorted(folder.iterdir()):
        try:
            if path.suffix == ".safetensors":
                with safe_open(str(path), framework="pt"):
                    pass
            elif path.suffix in (".bin", ".pkl", ".pt"):
                torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # any failure to open is what we look for
            return path
    return folder


def load_checkpoint(accelerator, folder: Path) -> TrainingState:
    """Restore model, optimizer, scheduler and RNG states; name the file when one is corrupt."""
    state = TrainingState.load(folder)
    try:
        accelerator.load_state(str(folder))
    except Exception as error:  # safetensors, torch and pickle raise many types
        earlier = [
            path for other, path in list_checkpoints(folder.parent.parent)
            if other.completed_steps < state.completed_steps
            and other.fingerprint == state.fingerprint
        ]
        hint = f"; resume from the previous one: --resume-from {earlier[-1]}" if earlier else ""
        raise CheckpointError(
            f"checkpoint file {_unreadable_file(folder)} is corrupt "
            f"({type(error).__name__}: {error}){hint}"
        ) from error
    return state


def save_checkpoint(
    accelerator, output_dir: Path, state: TrainingState, keep: int | None
) -> Path:
    """Write the checkpoint to a temporary folder and rename it into place, then prune old ones."""
    root = output_dir / CHECKPOINTS_DIR
    final = root / checkpoint_name(state.completed_steps)
    partial = root / (PARTIAL_PREFIX + final.name)
    if accelerator.is_main_process and partial.exists():
        shutil.rmtree(partial)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    if accelerator.is_main_process:
        state.save(partial)
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
        if keep:
            for _, old in list_checkpoints(output_dir)[:-keep]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final
