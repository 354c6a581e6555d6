"""Publish a training output folder (model, tokenizer, results, card) to the Hugging Face Hub.

The output folder *is* the publish folder: everything in it goes up except ``checkpoints/`` and
``logs/``. Every failure (no token, Hub unreachable, folder incomplete) raises
:class:`HubPushError` whose message says how to fix it; the only local change a push makes is
re-rendering README.md with the repository id, so a failed push can simply be retried.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, get_token, is_offline_mode
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

from swiss_ner.model_card import CARD_FILE, RESULTS_FILE, write_model_card

try:  # huggingface_hub 2 talks HTTP through httpx2, 1.x through httpx
    from httpx2 import HTTPError as TransportHTTPError
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    from httpx import HTTPError as TransportHTTPError

PUBLISH_IGNORE_PATTERNS: tuple[str, ...] = ("checkpoints/", "logs/")
WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES: tuple[str, ...] = ("tokenizer.json", "sentencepiece.bpe.model")
HUB_URL = "https://huggingface.co"
LOGIN_HELP = (
    "Log in once with `hf auth login` (or `huggingface-cli login`), or set HF_TOKEN to a token "
    "with write access (https://huggingface.co/settings/tokens), or pass --token."
)


class HubPushError(RuntimeError):
    """A push that could not happen; the message says why and how to retry."""


def _retry_hint(output_dir: Path, repo_id: str | None) -> str:
    repo = repo_id or "ORG/NAME"
    return (
        f"The local folder {output_dir} is complete and kept as is. Once fixed, push it with:\n"
        f"    python scripts/push_to_hub.py {output_dir} --repo-id {repo}"
    )


def _push_error(output_dir: Path, repo_id: str | None, reason: str) -> HubPushError:
    target = f"{HUB_URL}/{repo_id}" if repo_id else "the Hub"
    return HubPushError(
        f"Could not push {output_dir} to {target}: {reason}\n{_retry_hint(output_dir, repo_id)}"
    )


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
    elif "PER" not in json.dumps(json.loads(config_path.read_text()).get("id2label", {})):
        missing.append("id2label with PER/ORG/LOC tags in config.json")
    if not any((output_dir / name).is_file() for name in WEIGHT_FILES):
        missing.append(f"model weights ({' or '.join(WEIGHT_FILES)})")
    if not (output_dir / "tokenizer_config.json").is_file() or not any(
        (output_dir / name).is_file() for name in TOKENIZER_FILES
    ):
        either = " or ".join(TOKENIZER_FILES)
        missing.append(f"tokenizer files (tokenizer_config.json and {either})")
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


def default_commit_message(results: dict) -> str:
    """A commit title naming the run: ``swiss-ner: train de; validation F1 de 0.861 fr 0.702*``."""
    zero_shot = set(results.get("zero_shot_langs", []))
    scores = " ".join(
        f"{lang} {metrics['f1']:.3f}{'*' if lang in zero_shot else ''}"
        for lang, metrics in results.get("metrics", {}).items()
    )
    train_langs = "+".join(results.get("train_langs", [])) or "?"
    split = results.get("eval_split", "validation")
    return f"swiss-ner: train {train_langs}; {split} F1 {scores} (* zero-shot)"


def _human_size(num_bytes: int) -> str:
    if num_bytes < 1024:
        return f"{num_bytes} B"
    size = num_bytes / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _print_dry_run(
    output_dir: Path, repo_id: str, revision: str | None, private: bool, token: str | None
) -> list[str]:
    files = files_to_upload(output_dir)
    total = sum(size for _, size in files)
    print(f"Dry run: nothing is pushed. Would upload to {HUB_URL}/{repo_id}", end="")
    print(f" (branch {revision or 'main'}, {'private' if private else 'public'}):")
    for name, size in files:
        print(f"  {name:<40} {_human_size(size):>10}")
    excluded = ", ".join(PUBLISH_IGNORE_PATTERNS)
    print(f"{len(files)} files, {_human_size(total)}; excluded: {excluded}")
    if token is None:
        print(f"No Hugging Face token found: a real push would fail. {LOGIN_HELP}")
    print(f"\n----- {CARD_FILE} -----")
    print((output_dir / CARD_FILE).read_text(encoding="utf-8"))
    return [name for name, _ in files]


def _describe_failure(error: Exception) -> str:
    if isinstance(error, OfflineModeIsEnabled) or is_offline_mode():
        return f"offline mode is on (HF_HUB_OFFLINE is set; unset it to reach the Hub). [{error}]"
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        if status in (401, 403):
            return (
                f"the Hub refused the token (HTTP {status}): it is invalid or lacks write access "
                f"to this namespace. {LOGIN_HELP} [{error}]"
            )
        return f"the Hub answered HTTP {status}. [{error}]"
    return f"the Hub could not be reached ({type(error).__name__}: {error})."


def push_to_hub(
    output_dir: str | Path,
    repo_id: str | None,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    dry_run: bool = False,
    api: HfApi | None = None,
    accelerator: Any | None = None,
) -> str | list[str] | None:
    """Upload ``output_dir`` (minus checkpoints/ and logs/) to the model repo ``repo_id``.

    Re-renders README.md with ``repo_id`` first, creates the repo (and ``revision`` branch) if
    needed, then uploads in one commit. Returns the commit URL, the list of files for a dry run,
    or None on non-main processes of a multi-process ``accelerator`` run (they only wait).
    Raises :class:`HubPushError` with a how-to-fix message on any failure.
    """
    if accelerator is not None:
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            return None
    output_dir = Path(output_dir).expanduser().resolve()
    if not repo_id:
        raise _push_error(output_dir, repo_id, "no repository id given (--repo-id ORG/NAME).")
    missing = missing_publish_files(output_dir)
    if missing:
        raise HubPushError(
            f"Cannot publish {output_dir}: it is missing " + "; ".join(missing) + ". "
            "Train with `accelerate launch scripts/train.py --output-dir ...` to produce a "
            "complete folder."
        )
    token = token or get_token()
    if token is None and not dry_run:
        raise _push_error(output_dir, repo_id, f"no Hugging Face token found. {LOGIN_HELP}")
    write_model_card(output_dir, repo_id=repo_id)
    if dry_run:
        return _print_dry_run(output_dir, repo_id, revision, private, token)

    results = json.loads((output_dir / RESULTS_FILE).read_text(encoding="utf-8"))
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
    except (OSError, TransportHTTPError) as error:
        raise _push_error(output_dir, repo_id, _describe_failure(error)) from error
    return str(getattr(commit, "commit_url", commit))


DESCRIPTION = """\
Upload a swiss-ner output folder (weights, tokenizer, config.json, results.json,
results_per_language.csv and the model card README.md) to a Hub model repository, so that
pipeline("ner", model=REPO_ID) and the Hub widget work. checkpoints/ and logs/ stay local.
The model card is re-rendered from results.json with the repository id before the upload.
The token comes from --token, else HF_TOKEN, else the login stored by `hf auth login`."""

EPILOG = """\
examples:
  python scripts/push_to_hub.py outputs/xlmr-panx-ch --repo-id my-org/xlmr-panx-ch --dry-run
  python scripts/push_to_hub.py outputs/xlmr-panx-ch --repo-id my-org/xlmr-panx-ch --private"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="The training --output-dir.")
    parser.add_argument(
        "--repo-id", required=True, help="Hub model repository, e.g. my-org/xlmr-panx-ch."
    )
    parser.add_argument(
        "--private", action="store_true", help="Create the repository private (if it is new)."
    )
    parser.add_argument(
        "--revision", default=None, help="Branch to push to (created if missing); default main."
    )
    parser.add_argument(
        "--commit-message",
        default=None,
        help="Commit title; default names the run, e.g. 'swiss-ner: train de; validation F1 ...'.",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Render the card and list the files (with sizes) that would go up; push nothing.",
    )
    parser.add_argument(
        "--token", default=None, help="Hub token with write access (default: HF_TOKEN or login)."
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = push_to_hub(
            args.output_dir,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
            token=args.token,
            dry_run=args.dry_run,
        )
    except HubPushError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not args.dry_run:
        print(f"Pushed {args.output_dir} to https://huggingface.co/{args.repo_id}: {result}")
    return 0
