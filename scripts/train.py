"""Fine-tune XLM-RoBERTa on the Swiss PAN-X mix: ``accelerate launch scripts/train.py --help``."""

from swiss_ner.config import parse_config
from swiss_ner.training import train

DESCRIPTION = """\
Fine-tune an XLM-RoBERTa model into a PER/ORG/LOC tagger on PAN-X, sampled by the Swiss
language shares, with an Accelerate training loop (mixed precision, multi-GPU, resumable).
Run it with `accelerate launch [--config_file accelerate_config.yaml] scripts/train.py ...`
or plain `python scripts/train.py ...` on one device. It writes the model, tokenizer,
results.json and a model card (README.md) into --output-dir."""


def main() -> None:
    train(parse_config(description=DESCRIPTION))


if __name__ == "__main__":
    main()
