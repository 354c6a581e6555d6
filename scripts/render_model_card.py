"""Render the top-level model_card.md: the card of the reference offline run.

``python scripts/render_model_card.py`` re-renders it from the run record kept in
docs/reference_run/ (results.json, config.json); ``python scripts/render_model_card.py
outputs/small-panx-ch`` first takes that record from a finished run. tests/test_model_card.py
fails while model_card.md differs from what the packaged template renders.
"""

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD_DIR = ROOT / "docs" / "reference_run"
RECORD_FILES = ("results.json", "config.json")
CARD_PATH = ROOT / "model_card.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", type=Path,
                        help="a finished run's output folder to take the record from")
    args = parser.parse_args()
    from swiss_ner.model_card import folder_model_card
    from swiss_ner.results import RunResults

    if args.run_dir is not None:
        missing = [name for name in RECORD_FILES if not (args.run_dir / name).is_file()]
        try:
            if missing:
                raise FileNotFoundError(f"{args.run_dir} has no {', '.join(missing)}")
            RunResults.load(args.run_dir)  # refuses a record of another schema, naming the file
        except (OSError, ValueError) as error:
            print(f"render_model_card: error: {error}", file=sys.stderr)
            return 1
        RECORD_DIR.mkdir(parents=True, exist_ok=True)
        for name in RECORD_FILES:
            shutil.copyfile(args.run_dir / name, RECORD_DIR / name)
    CARD_PATH.write_text(folder_model_card(RECORD_DIR, widget_outputs=False).content,
                         encoding="utf-8")
    print(f"Wrote {CARD_PATH.relative_to(ROOT)} from {RECORD_DIR.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
