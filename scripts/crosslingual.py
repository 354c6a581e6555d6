"""Cross-lingual transfer report: zero-shot from German, the French learning curve, one model per
language and all languages together. Every TrainConfig option applies to every run; see --help.

    python scripts/crosslingual.py --data-dir ../shared/data/panx --report-dir reports/crosslingual
"""

from swiss_ner.experiments.crosslingual import main

if __name__ == "__main__":
    main()
