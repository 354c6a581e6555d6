"""`swiss-ner push` as a script (`python scripts/push_to_hub.py --help`)."""
import sys

from swiss_ner.cli import main

if __name__ == "__main__":
    sys.exit(main(["push", *sys.argv[1:]]))
