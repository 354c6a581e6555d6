"""Publish a training output folder to the Hub: ``python scripts/push_to_hub.py --help``."""

import sys

from swiss_ner.hub import main

if __name__ == "__main__":
    sys.exit(main())
