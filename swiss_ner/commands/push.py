"""``swiss-ner push``: the model repository, then the demo Space if one is asked for; a dry run
prints what would go up instead."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi, get_token

from swiss_ner.config import PushConfig
from swiss_ner.hub import (
    LOGIN_HELP,
    PUBLISH_IGNORE_PATTERNS,
    files_to_upload,
    push_to_hub,
    space_examples,
)
from swiss_ner.model_card import CARD_FILE, HUB_URL
from swiss_ner.space import push_space, space_files


def human_size(num_bytes: int) -> str:
    """``532 B``, ``12.4 KB``, ``1.1 GB``."""
    if num_bytes < 1024:
        return f"{num_bytes} B"
    size = num_bytes / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _visibility(private: bool | None) -> str:
    if private is None:
        return "visibility: the namespace's default"
    return "private" if private else "public"


def print_model_plan(config: PushConfig, token: str | None) -> None:
    """The files a push would upload, their sizes, and the card it would render."""
    output_dir = Path(config.output_dir).expanduser().resolve()
    files = files_to_upload(output_dir)
    total = sum(size for _, size in files)
    print(f"Dry run: nothing is pushed. Would upload to {HUB_URL}/{config.repo_id} "
          f"(branch {config.revision or 'main'}, {_visibility(config.private)}):")
    for name, size in files:
        print(f"  {name:<40} {human_size(size):>10}")
    excluded = ", ".join(PUBLISH_IGNORE_PATTERNS)
    print(f"{len(files)} files, {human_size(total)}; excluded: {excluded}")
    if token is None:
        print(f"No Hugging Face token found: a real push would fail. {LOGIN_HELP}")
    print(f"\n----- {CARD_FILE} -----")
    print((output_dir / CARD_FILE).read_text(encoding="utf-8"))


def print_space_plan(space_id: str, files: dict[str, str], token: str | None) -> None:
    """The files of the demo Space a push would upload."""
    print(f"Dry run: nothing is pushed. Would upload to {HUB_URL}/spaces/{space_id}:")
    for name, text in files.items():
        print(f"  {name:<20} {len(text.encode()):>8} B")
    if token is None:
        print(f"No Hugging Face token found: a real push would fail. {LOGIN_HELP}")


def run(config: PushConfig, api: HfApi | None = None) -> int:
    """Push the model (and the Space), printing each commit, or the plan of a dry run."""
    token = config.token or get_token()
    result = push_to_hub(
        config.output_dir, config.repo_id, private=config.private, revision=config.revision,
        commit_message=config.commit_message, token=config.token, dry_run=config.dry_run,
        api=api, space_id=config.space_id,
    )
    if config.dry_run:
        print_model_plan(config, token)
    else:
        print(f"Pushed {config.output_dir} to {HUB_URL}/{config.repo_id}: {result}")
    if not config.space_id:
        return 0
    examples = space_examples(config.output_dir)
    space_result = push_space(config.space_id, config.repo_id, examples, token=config.token,
                              dry_run=config.dry_run, api=api)
    if config.dry_run:
        print_space_plan(config.space_id, space_files(config.repo_id, examples), token)
    else:
        print(f"Pushed the demo Space to {HUB_URL}/spaces/{config.space_id}: {space_result}")
    return 0
