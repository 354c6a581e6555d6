"""Error analysis of a trained tagger (highest-loss sentences, loss by token and label, confusion
matrix, likely annotation errors).

    python scripts/error_analysis.py outputs/xlmr-panx-ch --data-dir ../shared/data/panx --lang de
"""

from swiss_ner.experiments.error_analysis import main

if __name__ == "__main__":
    main()
