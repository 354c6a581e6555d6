"""Publish a training output folder (model, tokenizer, results, card) to the Hugging Face Hub.

The output folder *is* the publish folder: everything in it goes up except ``checkpoints/`` and
``logs/``. Every failure (bad repository id, no token, Hub unreachable, folder incomplete)
raises :class:`HubPushError` whose one-line message says how to fix it; the only local change a
push makes is re-rendering README.md with the repository id, so a failed push can simply be
retried. ``swiss-ner push`` is :mod:`swiss_ner.commands.push`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, get_token, is_offline_mode
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

from swiss_ner.config import check_repo_id
from swiss_ner.model_card import HUB_URL, card_languages, write_model_card
from swiss_ner.results import RESULTS_FILE, RunResults
from swiss_ner.widget import WIDGET_EXAMPLES

try:  # huggingface_hub 2 talks HTTP through httpx2, 1.x through httpx
    from httpx2 import HTTPError as TransportHTTPError
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    from httpx import HTTPError as TransportHTTPError

PUBLISH_IGNORE_PATTERNS: tuple[str, ...] = ("checkpoints/", "logs/")
WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "model.safetensors.index.json")
LOGIN_HELP = (
    "Log in once with `hf auth login`, or set HF_TOKEN to a token with write access "
    "(https://huggingface.co/settings/tokens), or pass --token."
)


class HubPushError(RuntimeError):
    """A push that could not happen; the message says why and how to retry."""


def _push_error(output_dir: Path, repo_id: str, reason: str) -> HubPushError:
    return HubPushError(
        f"Could not push {output_dir} to {HUB_URL}/{repo_id}: {reason} The local folder is "
        f"complete and kept as is; once fixed, push it with "
        f"`swiss-ner push {output_dir} --repo-id {repo_id}`."
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _label_problem(config_path: Path) -> str | None:
    """Why ``config.json`` does not hold an IOB2 label set, or None when it does."""
    labels = list(json.loads(config_path.read_text(encoding="utf-8")).get("id2label", {}).values())
    iob2 = all(label == "O" or label[:2] in ("B-", "I-") for label in labels)
    if not iob2 or not any(label != "O" for label in labels):
        return f"id2label with an IOB2 label set (O, B-X, I-X) in config.json, not {labels}"
    return None


def _tokenizer_problem(output_dir: Path) -> str | None:
    """Why the folder's tokenizer cannot be loaded, or None when it can."""
    from swiss_ner.modeling import TokenizerError, load_tokenizer

    try:
        load_tokenizer(output_dir)
    except TokenizerError as error:
        return f"a loadable tokenizer ({_first_line(error)})"
    return None


def missing_publish_files(output_dir: str | Path) -> list[str]:
    """What the folder lacks to be a usable Hub model (empty when complete)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return [f"the folder itself ({output_dir} does not exist)"]
    missing = []
    if not (output_dir / RESULTS_FILE).is_file():
        missing.append(f"{RESULTS_FILE} (the run's metrics; the model card is built from it)")
    config_path = output_dir / "config.json"
    if not config_path.is_file():
        missing.append("config.json (model configuration)")
    elif label_problem := _label_problem(config_path):
        missing.append(label_problem)
    if not any((output_dir / name).is_file() for name in WEIGHT_FILES):
        missing.append(f"model weights ({' or '.join(WEIGHT_FILES)})")
    if tokenizer_problem := _tokenizer_problem(output_dir):
        missing.append(tokenizer_problem)
    return missing


def files_to_upload(output_dir: str | Path) -> list[tuple[str, int]]:
    """``(path in repo, bytes)`` of each file the push uploads, filtered as upload_folder does."""
    output_dir = Path(output_dir)
    sizes = {
        path.relative_to(output_dir).as_posix(): path.stat().st_size
        for path in sorted(output_dir.glob("**/*"))
        if path.is_file()
    }
    kept = filter_repo_objects(
        sizes, ignore_patterns=[*PUBLISH_IGNORE_PATTERNS, *DEFAULT_IGNORE_PATTERNS]
    )
    return [(name, sizes[name]) for name in kept]


def default_commit_message(results: RunResults) -> str:
    """A commit title naming the run: ``swiss-ner: train de; test F1 de 0.861 fr 0.702*``."""
    zero_shot = set(results.zero_shot_langs)
    scores = " ".join(
        f"{lang} {language_scores.f1:.3f}{'*' if lang in zero_shot else ''}"
        for lang, language_scores in results.headline_metrics.items()
    )
    train_langs = "+".join(results.train_langs)
    return f"swiss-ner: train {train_langs}; {results.headline_split} F1 {scores} (* zero-shot)"


def describe_failure(error: Exception) -> str:
    """Why a Hub call failed, in one line (for the model push and the Space push alike)."""
    if isinstance(error, ValueError):
        return f"the Hub client refused the request: {_first_line(error)}."
    if isinstance(error, OfflineModeIsEnabled) or is_offline_mode():
        return (
            "offline mode is on (HF_HUB_OFFLINE is set; unset it to reach the Hub). "
            f"[{_first_line(error)}]"
        )
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        if status in (401, 403):
            return (
                f"the Hub refused the token (HTTP {status}): it is invalid or lacks write access "
                f"to this namespace. {LOGIN_HELP} [{_first_line(error)}]"
            )
        return f"the Hub answered HTTP {status}. [{_first_line(error)}]"
    return f"the Hub could not be reached ({type(error).__name__}: {_first_line(error)})."


def _checked_folder(output_dir: str | Path, repo_id: str | None) -> Path:
    """The resolved folder, once the repository id is valid and the folder complete."""
    output_dir = Path(output_dir).expanduser().resolve()
    if not repo_id:
        raise HubPushError(f"Cannot push {output_dir}: no repository id (--repo-id ORG/NAME).")
    try:
        check_repo_id(repo_id, "--repo-id")
    except ValueError as error:
        raise HubPushError(f"Cannot push {output_dir}: {_first_line(error)}") from None
    missing = missing_publish_files(output_dir)
    if missing:
        raise HubPushError(
            f"Cannot publish {output_dir}: it is missing " + "; ".join(missing) + ". Train with "
            "`swiss-ner train --output-dir ...` to produce a complete folder."
        )
    return output_dir


def _render_card(output_dir: Path, repo_id: str, space_id: str | None) -> None:
    try:
        write_model_card(output_dir, repo_id=repo_id, space_id=space_id)
    except ValueError as error:
        raise HubPushError(
            f"Cannot publish {output_dir}: its model card could not be written: "
            f"{_first_line(error)}"
        ) from error


def push_to_hub(
    output_dir: str | Path,
    repo_id: str | None,
    *,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    dry_run: bool = False,
    api: HfApi | None = None,
    accelerator: Any | None = None,
    space_id: str | None = None,
) -> str | list[str] | None:
    """Upload ``output_dir`` (minus checkpoints/ and logs/) to the model repo ``repo_id``.

    Checks the id and the folder, re-renders README.md with ``repo_id`` (and a link to the demo
    Space ``space_id``), creates the repo (``private=None`` keeps the namespace's default) and
    the ``revision`` branch if needed, then uploads in one commit. Returns the commit URL, the
    list of files for a dry run, or None on non-main processes of a multi-process
    ``accelerator`` run (they only wait). Raises :class:`HubPushError` on any failure.
    """
    if accelerator is not None:
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            return None
    output_dir = _checked_folder(output_dir, repo_id)
    token = token or get_token()
    if token is None and not dry_run:
        raise _push_error(output_dir, repo_id, f"no Hugging Face token found. {LOGIN_HELP}")
    _render_card(output_dir, repo_id, space_id)
    if dry_run:
        return [name for name, _ in files_to_upload(output_dir)]

    results = RunResults.load(output_dir)
    api = api or HfApi(token=token)
    try:
        api.create_repo(repo_id, token=token, private=private, repo_type="model", exist_ok=True)
        if revision:
            api.create_branch(
                repo_id, branch=revision, token=token, repo_type="model", exist_ok=True
            )
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=output_dir,
            repo_type="model",
            revision=revision,
            token=token,
            commit_message=commit_message or default_commit_message(results),
            ignore_patterns=list(PUBLISH_IGNORE_PATTERNS),
        )
    except (OSError, TransportHTTPError, ValueError) as error:
        raise _push_error(output_dir, repo_id, describe_failure(error)) from error
    return str(getattr(commit, "commit_url", commit))


def space_examples(output_dir: str | Path) -> list[str]:
    """The demo Space's example sentences: one per language of the run."""
    languages = card_languages(RunResults.load(output_dir))
    return [WIDGET_EXAMPLES[lang] for lang in languages if lang in WIDGET_EXAMPLES]
