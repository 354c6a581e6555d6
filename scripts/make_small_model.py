"""`swiss-ner make-small-model` as a script (`python scripts/make_small_model.py --help`)."""
import sys

from swiss_ner.cli import main

if __name__ == "__main__":
    sys.exit(main(["make-small-model", *sys.argv[1:]]))
