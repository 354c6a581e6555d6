"""`swiss-ner analyse` as a script (`python scripts/error_analysis.py --help`)."""
import sys

from swiss_ner.cli import main

if __name__ == "__main__":
    sys.exit(main(["analyse", *sys.argv[1:]]))
