"""`swiss-ner report` as a script (`python scripts/crosslingual.py --help`)."""
import sys

from swiss_ner.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
