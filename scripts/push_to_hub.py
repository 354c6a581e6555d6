"""Publish a training output folder to the Hub: ``python scripts/push_to_hub.py --help``."""

from __future__ import annotations

import argparse
import sys

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
    from swiss_ner.hub import HubPushError, push_to_hub

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


if __name__ == "__main__":
    sys.exit(main())
