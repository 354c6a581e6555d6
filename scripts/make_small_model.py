"""Build the small XLM-R model folder that stands in for xlm-roberta-base offline.

    python scripts/make_small_model.py --data-dir ../shared/data/panx --output-dir models/xlmr-small
    python scripts/train.py --model models/xlmr-small ...

``--help`` lists the tokenizer and model-size options.
"""

from swiss_ner.small_model import main

if __name__ == "__main__":
    main()
