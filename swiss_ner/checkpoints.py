"""What a checkpoint is, which one to resume, and writing one so that it is never half there.

A checkpoint is accelerate's ``save_state`` folder (model, optimizer, scheduler, RNG states)
plus ``training_state.json``: the steps done, the position inside the epoch, the history and
elapsed time so far, and the fingerprint of the run's configuration. Folders are named by
step (``step_N``), so two checkpoints never tie, and ``latest`` means the most steps of *this*
run: a checkpoint with another fingerprint is never resumed. The training options themselves
are stored beside the fingerprint, so that a refused resume can say which options differ.
Both speak of options by their command-line names (``TrainConfig.flat_dict``), whatever section
holds them, so checkpoints written while the configuration was flat (schema 2) still resume.

A write that fails (a full disk, most often) ends in one line naming the path and the
checkpoint to resume from, and the partial folder is removed. A lock file in ``checkpoints/``
keeps a second run from writing into the same output folder.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swiss_ner.config import TrainConfig
from swiss_ner.config.fields import BOOKKEEPING, RESULTS, fields_with_role

CHECKPOINTS_DIR = "checkpoints"
STATE_FILE = "training_state.json"
PARTIAL_PREFIX = ".partial-"
LOCK_FILE = ".lock"
OWNER_FILE = ".lock-owner.json"

# Options that do not change what is trained (read from each option's stated role, whatever
# its section): a run may be resumed or extended with others.
NON_TRAINING_FIELDS: frozenset[str] = fields_with_role(TrainConfig, RESULTS, BOOKKEEPING)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names it and what to do instead."""


def training_options(config_values: dict[str, Any]) -> dict[str, Any]:
    """The options that decide the training trajectory, as stored in each checkpoint;
    ``config_values`` names every option as on the command line (``TrainConfig.flat_dict``)."""
    return {k: v for k, v in sorted(config_values.items()) if k not in NON_TRAINING_FIELDS}


def config_fingerprint(config_values: dict[str, Any]) -> str:
    """A short hash of the options that decide the training trajectory."""
    kept = training_options(config_values)
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
    # The values behind the fingerprint (empty in checkpoints written before they were kept).
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_run(cls, config_values: dict[str, Any]) -> TrainingState:
        """The fresh state of a run with these options (by flag name): fingerprint and values."""
        return cls(fingerprint=config_fingerprint(config_values),
                   options=training_options(config_values))

    def save(self, folder: Path) -> None:
        (folder / STATE_FILE).write_text(json.dumps(dataclasses.asdict(self)) + "\n")

    @classmethod
    def load(cls, folder: Path) -> TrainingState:
        path = folder / STATE_FILE
        if not path.is_file():
            raise CheckpointError(f"{folder} is not a checkpoint (it has no {STATE_FILE})")
        try:
            state = cls(**json.loads(path.read_text()))
            if not isinstance(state.completed_steps, int) or not isinstance(state.options, dict):
                raise TypeError("fields of the wrong type")
            return state
        except (OSError, ValueError, TypeError) as error:
            raise CheckpointError(
                f"checkpoint {folder} is corrupt: {STATE_FILE} is unreadable ({error})"
            ) from None


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


def _step_of(folder: Path) -> int:
    """The step in a checkpoint folder's name (``step_N``); -1 for any other name."""
    number = folder.name.removeprefix("step_")
    return int(number) if number.isdigit() else -1


def _corrupt_checkpoints(output_dir: str | Path) -> list[tuple[Path, CheckpointError]]:
    """Checkpoint folders whose training state does not load, fewest steps first."""
    corrupt = []
    for folder in (Path(output_dir) / CHECKPOINTS_DIR).glob("step_*"):
        try:
            TrainingState.load(folder)
        except CheckpointError as error:
            corrupt.append((folder, error))
    return sorted(corrupt, key=lambda item: _step_of(item[0]))


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def option_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``--name NOW (checkpoint: THEN)`` for every training option that changed."""
    return [f"--{name.replace('_', '-')} {_shown(current.get(name))} (checkpoint: "
            f"{_shown(saved.get(name))})"
            for name in sorted(set(saved) | set(current)) if saved.get(name) != current.get(name)]


def _other_options(state: TrainingState, options: dict[str, Any] | None) -> str:
    """Which options make a checkpoint another run's, as far as the checkpoint recorded them."""
    if options is None or not state.options:
        return "(that checkpoint does not record its options; see train_config.json of that run)"
    differences = option_differences(state.options, options)
    if not differences:
        return "(the options it records match: it was written by another swiss-ner version)"
    return f"options that differ: {'; '.join(differences)}"


def find_checkpoint(
    output_dir: str | Path,
    resume_from: str,
    fingerprint: str,
    options: dict[str, Any] | None = None,
) -> Path:
    """The checkpoint to resume: a folder, or ``latest``, this run's checkpoint with most steps.

    ``options`` (:func:`training_options` of this run) let a refusal name the options that
    differ from those a checkpoint was saved with.
    """
    if resume_from != "latest":
        folder = Path(resume_from)
        state = TrainingState.load(folder)
        if state.fingerprint != fingerprint:
            raise CheckpointError(
                f"{folder} belongs to a run with other training options; resume with the "
                f"options it was saved with; {_other_options(state, options)}"
            )
        return folder
    root = Path(output_dir) / CHECKPOINTS_DIR
    found = list_checkpoints(output_dir)
    own = [path for state, path in found if state.fingerprint == fingerprint]
    corrupt = [(path, error) for path, error in _corrupt_checkpoints(output_dir)
               if not own or _step_of(path) > _step_of(own[-1])]
    if corrupt:
        hint = f"; resume from the previous one: --resume-from {own[-1]}" if own else ""
        raise CheckpointError(f"--resume-from latest: {corrupt[-1][1]}{hint}")
    if own:
        return own[-1]
    if found:
        names = ", ".join(path.name for _, path in found)
        raise CheckpointError(
            f"--resume-from latest: {root} holds checkpoints ({names}) of a run with other "
            f"training options, none of this one; {_other_options(found[-1][0], options)}. Resume "
            "with that run's options, or pass --overwrite-output-dir to start afresh"
        )
    raise CheckpointError(f"--resume-from latest: no checkpoint in {root}")


def _checkpoint_entries(folder: Path) -> list[Path]:
    """The checkpoints and partial checkpoints in ``folder`` (not the lock files)."""
    if not folder.is_dir():
        return []
    return [path for path in folder.iterdir() if not path.name.startswith(LOCK_FILE)]


def refuse_foreign_checkpoints(output_dir: str | Path, overwrite: bool) -> None:
    """Stop a fresh run in a folder that holds checkpoints, unless asked to overwrite them."""
    folder = Path(output_dir) / CHECKPOINTS_DIR
    entries = _checkpoint_entries(folder)
    if not entries:
        return
    if overwrite:
        for path in entries:  # the lock files stay: this run holds them
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
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


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _megabytes(size: float) -> str:
    return f"{size / 2**20:,.1f} MB"


def estimate_checkpoint_bytes(model, optimizer) -> int:
    """The size of one checkpoint: the weights, and the optimizer's state (AdamW keeps two
    moments per trainable weight; before the first step it holds none yet, so they are
    counted from the weights)."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    moments = sum(t.numel() * t.element_size() for state in optimizer.state.values()
                  for t in state.values() if hasattr(t, "numel"))
    if not moments:
        moments = 2 * sum(p.numel() * 4 for p in model.parameters() if p.requires_grad)
    return weights + moments


def space_warning(output_dir: str | Path, checkpoint_bytes: int, keep: int | None) -> str | None:
    """One line when the disk of ``output_dir`` cannot hold ``keep`` + 1 checkpoints (old ones
    are deleted only after the new one is written); None when it can or ``keep`` is unset."""
    folder = Path(output_dir)
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if keep is None or free >= (keep + 1) * checkpoint_bytes:
        return None
    return (
        f"warning: {_megabytes(free)} free at {output_dir}, but checkpoints of about "
        f"{_megabytes(checkpoint_bytes)} need {_megabytes((keep + 1) * checkpoint_bytes)} "
        f"(--save-total-limit {keep} + 1, as the old ones are deleted after the new one is "
        "written); free space or lower --save-total-limit"
    )


def _no_space(error: BaseException, folder: Path) -> bool:
    """Whether a failed write ran out of space: ENOSPC or EDQUOT, safetensors' StorageFull, or
    torch's short write (``inline_container.cc ... unexpected pos``) on an all but full disk."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error)
    if "No space left" in text or "StorageFull" in text or "Disk quota" in text:
        return True
    return "inline_container" in text and shutil.disk_usage(folder).free < 2**20


def _is_write_error(error: BaseException) -> bool:
    """OSError, or the errors safetensors and torch raise when a file cannot be written."""
    return isinstance(error, OSError) or type(error).__name__ == "SafetensorError" or (
        isinstance(error, RuntimeError)
        and ("inline_container" in str(error) or "write failed" in str(error))
    )


@contextmanager
def reported_write(target: Path, output_dir: Path, keep: int | None) -> Iterator[None]:
    """Turn a failed write of ``target`` (a checkpoint, the model, the card) into one line: the
    path, "no space left on device" when that is the cause, and the checkpoint to resume."""
    try:
        yield
    except Exception as error:
        if not _is_write_error(error):
            raise
        kept = list_checkpoints(output_dir)
        if _no_space(error, target if target.exists() else target.parent):
            size = f" of about {_megabytes(_size(kept[-1][1]))}" if kept else ""
            limit = f"--save-total-limit {keep} + 1 = {keep + 1}" if keep else "all its"
            cause = (f"no space left on device; the disk must hold {limit} checkpoints{size}, "
                     "as the old ones are deleted only after the new one is written")
        else:
            cause = getattr(error, "strerror", None) or f"{type(error).__name__}: {error}"
        resume = (f"; after freeing space, resume from {kept[-1][1]} with --resume-from latest"
                  if kept else "; there is no checkpoint to resume from yet")
        raise CheckpointError(f"cannot write {target}: {cause}{resume}") from error


def save_checkpoint(
    accelerator, output_dir: Path, state: TrainingState, keep: int | None
) -> Path:
    """Write the checkpoint to a temporary folder and rename it into place, then prune old ones.

    A failed write removes the temporary folder, so the newest complete checkpoint stays the
    one to resume, and ends in one line (:func:`reported_write`).
    """
    root = output_dir / CHECKPOINTS_DIR
    final = root / checkpoint_name(state.completed_steps)
    partial = root / (PARTIAL_PREFIX + final.name)
    if accelerator.is_main_process and partial.exists():
        shutil.rmtree(partial)
    accelerator.wait_for_everyone()
    try:
        with reported_write(final, output_dir, keep):
            accelerator.save_state(str(partial))
            if accelerator.is_main_process:
                state.save(partial)
                if final.exists():
                    shutil.rmtree(final)
                partial.rename(final)
    except CheckpointError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if accelerator.is_main_process and keep:
        for _, old in list_checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


class OutputFolderInUse(RuntimeError):
    """Another run holds the output folder; the message names its process."""


@contextmanager
def output_folder_lock(output_dir: str | Path) -> Iterator[None]:
    """Hold ``output_dir`` for this run, so that a second run into it stops at once instead of
    deleting this run's checkpoints under it; the lock goes when the process ends."""
    from filelock import FileLock, Timeout

    folder = Path(output_dir) / CHECKPOINTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_FILE))
    owner = folder / OWNER_FILE
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            other = json.loads(owner.read_text())
            who = f"process {other['pid']} on {other['host']}"
        except (OSError, ValueError, KeyError, TypeError):
            who = "another process"
        raise OutputFolderInUse(
            f"{output_dir} is in use by another swiss-ner run ({who}); wait for it to end or "
            "choose another --output-dir"
        ) from None
    try:
        owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()
