"""The ``swiss-ner`` command line: one sub-command per job, each parsed from its dataclass.

Heavy libraries (torch, transformers, datasets) are imported inside the command that needs
them, so ``swiss-ner --help`` answers at once. Every command fails the same way: one line
``swiss-ner: error: ...`` and a non-zero exit; ``--debug`` shows the traceback instead.
Under ``accelerate launch -m swiss_ner.cli train ...`` every process runs the same command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from swiss_ner import config as cfg


@dataclass(frozen=True)
class Command:
    """A sub-command: its configuration class, the function that runs it, and its texts."""

    config: type
    run: str  # "module:function", imported only when the command runs
    help: str
    description: str
    epilog: str = ""


TRAIN_DESCRIPTION = """\
Fine-tune an XLM-RoBERTa model into a tagger on PAN-X sampled by the Swiss language shares,
with an Accelerate loop (mixed precision, several GPUs, resumable). Run it as
`accelerate launch -m swiss_ner.cli train ...` (or `accelerate launch scripts/train.py ...`), or
plainly as `swiss-ner train ...` on one device. It writes the model, tokenizer, results.json and
a model card (README.md) into --output-dir."""

TAG_EPILOG = f"""\
examples:
  swiss-ner tag "traf Vertreter der Credit Suisse." --model outputs/xlmr-panx-ch
  swiss-ner tag "Le Conseil fédéral siège à Berne." "Roger Federer vive a Lugano." --model ORG/REPO
  echo "Nestlé hat seinen Sitz in Vevey." | swiss-ner tag --model outputs/xlmr-panx-ch
  swiss-ner tag --file news.txt --file more.txt --json --model outputs/xlmr-panx-ch > ents.jsonl

TEXT "-" or no TEXT and no --file reads stdin, one text per line. Offsets are character offsets
into each text: text[start:end] is the entity. Set {cfg.MODEL_ENV} to skip --model."""

TAG_CORPUS_EPILOG = """\
examples:
  swiss-ner tag-corpus news.jsonl --output tagged/ --model outputs/xlmr-panx-ch
  swiss-ner tag-corpus a.parquet b.parquet --text-column body --id-column doc_id -o tagged/
  accelerate launch --num_processes 2 -m swiss_ner.cli tag-corpus docs.txt -o tagged/ --model M
  swiss-ner tag-corpus docs.csv -o tagged/ --model M --engine ray --ray-address auto

Rerunning the same command continues an interrupted run; --overwrite starts over. Read the
output with pyarrow.dataset.dataset("tagged/", format="parquet") or DuckDB's
read_parquet('tagged/*.parquet')."""

PUSH_EPILOG = """\
examples:
  swiss-ner push outputs/xlmr-panx-ch --repo-id my-org/xlmr-panx-ch --dry-run --with-space
  swiss-ner push outputs/xlmr-panx-ch --repo-id my-org/xlmr-panx-ch --private"""

COMMANDS: dict[str, Command] = {
    "train": Command(
        cfg.TrainConfig, "swiss_ner.commands.train:run", "fine-tune a tagger", TRAIN_DESCRIPTION
    ),
    "report": Command(
        cfg.ReportConfig,
        "swiss_ner.commands.report:run",
        "cross-lingual transfer report",
        "Zero-shot transfer from --source-lang, a --target-lang learning curve, one model per "
        "language and all languages together; each run gets a folder under --report-dir/runs "
        "and is reused when its configuration matches.",
    ),
    "analyse": Command(
        cfg.AnalyseConfig,
        "swiss_ner.commands.analyse:run",
        "error analysis of a trained model",
        "Highest-loss sentences, loss by token and label, the confusion matrix, and likely "
        "annotation errors of a trained tagger on one language and split.",
    ),
    "push": Command(
        cfg.PushConfig,
        "swiss_ner.commands.push:run",
        "publish an output folder to the Hub",
        "Upload a swiss-ner output folder (weights, tokenizer, config.json, results.json and the "
        "model card) to a Hub model repository; checkpoints/ and logs/ stay local. The token "
        "comes from --token, else HF_TOKEN, else `hf auth login`.",
        PUSH_EPILOG,
    ),
    "make-small-model": Command(
        cfg.SmallModelConfig,
        "swiss_ner.commands.make_small_model:run",
        "build a small XLM-R model from scratch",
        "Train a SentencePiece-Unigram tokenizer (XLM-R scheme) on PAN-X training text and save "
        "it with a randomly initialised XLM-RoBERTa-architecture tagger, for machines that "
        "cannot download xlm-roberta-base.",
    ),
    "tag": Command(
        cfg.TagConfig,
        "swiss_ner.commands.tag:run",
        "tag entities in raw text",
        "Tag entities in raw text. Text is split into sentences and into words the way the "
        "PAN-X training data is (punctuation apart), so entities come without trailing periods.",
        TAG_EPILOG,
    ),
    "tag-corpus": Command(
        cfg.CorpusConfig,
        "swiss_ner.commands.tag_corpus:run",
        "tag a corpus of files into Parquet shards",
        "Tag every document of JSONL, Parquet, CSV or text files (one document per line) and "
        "write one row per input row (id, text, entities with offsets into the text, error) to "
        "a folder of Parquet shards that pyarrow, pandas, DuckDB or Spark read as one dataset. "
        "Streamed a chunk at a time; rerun the same command after a crash to continue.",
        TAG_CORPUS_EPILOG,
    ),
    "demo": Command(
        cfg.DemoConfig,
        "swiss_ner.commands.demo:run",
        "try a model in the browser (needs swiss-ner[demo])",
        "Serve the Gradio app of the demo Space locally: type text, see its entities.",
    ),
    "export": Command(
        cfg.ExportConfig,
        "swiss_ner.commands.export:run",
        "export a tagger to ONNX (needs swiss-ner[onnx])",
        "Export a trained tagger with the dynamo-based torch.onnx.export (dynamic batch and "
        "sequence axes) into --onnx OUT, with its tokenizer and config.json, so that "
        'NerTagger.from_pretrained(OUT, backend="onnx") runs it with ONNX Runtime on the CPU. '
        "--quantize stores int8 weights (onnxruntime's quantize_dynamic).",
    ),
    "serve": Command(
        cfg.ServeConfig,
        "swiss_ner.commands.serve:run",
        "serve a tagger over HTTP (needs swiss-ner[serve])",
        "Serve a tagger with the token-classification JSON of the Hugging Face Inference API: "
        'POST / with {"inputs": TEXT or [TEXTS], "parameters": {...}} answers the entities '
        "(entity_group, score, word, start, end), GET /health answers once the model is "
        "loaded. Concurrent requests are tagged in shared batches; the queue, the body and "
        "each text are bounded; SIGTERM answers accepted requests and exits 0.",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="swiss-ner",
        description="Fine-tune, evaluate, publish and use an XLM-RoBERTa named-entity tagger for "
        "German, French, Italian and English text.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(
            name,
            help=command.help,
            description=command.description,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter
            if command.epilog
            else cfg.HelpFormatter,
        )
        cfg.add_arguments(sub, command.config)
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
        )
    return parser


def _handler(command: Command):
    module, function = command.run.split(":")
    return getattr(importlib.import_module(module), function)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``swiss-ner`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("swiss_ner").setLevel(logging.INFO)
    try:
        config = cfg.config_from_namespace(command.config, args)
        status = int(_handler(command)(config) or 0)
        if argv is None and status == 0:
            # The program's work is done and saved: a SIGTERM while the interpreter closes
            # (a job's end often sends one) must not turn exit 0 into 143. Only for the program
            # itself: an in-process caller keeps its signals.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return status
    except (ValueError, OSError, RuntimeError) as error:
        if args.debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"swiss-ner: error: {message}", file=sys.stderr)
        return 2 if isinstance(error, cfg.ConfigError) else 1
    except KeyboardInterrupt:
        print("swiss-ner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
