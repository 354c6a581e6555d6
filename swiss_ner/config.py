"""The run configuration: one dataclass, parsed once from the command line, saved with results."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

SWISS_LANGS: tuple[str, ...] = ("de", "fr", "it", "en")
SWISS_FRACS: tuple[float, ...] = (0.629, 0.229, 0.084, 0.059)


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved in results.json and train_config.json."""

    model_name_or_path: str = field(
        default="xlm-roberta-base",
        metadata={
            "help": "Hub id or local folder of the model to fine-tune (tokenizer included).",
            "aliases": ("--model",),
        },
    )
    output_dir: str = field(
        default="outputs/xlmr-panx-ch",
        metadata={"help": "Folder for checkpoints, the final model, tokenizer and results.json."},
    )
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder of IOB2 files named {split}-{lang}.tsv; omit to load google/xtreme "
            "PAN-X.<lang> from the Hub."
        },
    )
    langs: list[str] = field(
        default_factory=lambda: list(SWISS_LANGS),
        metadata={"help": "Languages of the Swiss mix."},
    )
    fracs: list[float] = field(
        default_factory=lambda: list(SWISS_FRACS),
        metadata={"help": "Fraction of each language's splits kept, in the order of --langs."},
    )
    train_langs: list[str] = field(
        default_factory=lambda: ["de"],
        metadata={"help": "Languages trained on; several are concatenated and shuffled."},
    )
    eval_langs: list[str] = field(
        default_factory=lambda: list(SWISS_LANGS),
        metadata={"help": "Languages evaluated after each epoch (F1 per language)."},
    )
    label_names: list[str] | None = field(
        default=None,
        metadata={
            "help": "IOB2 label set of the data (default PAN-X's O B-PER I-PER B-ORG I-ORG B-LOC "
            "I-LOC); a different set re-initialises only the classifier of --model."
        },
    )
    eval_split: str = field(
        default="validation",
        metadata={"help": "Split evaluated after each epoch and at the end."},
    )
    max_train_samples: int | None = field(
        default=None,
        metadata={"help": "Keep only the first N training sentences (after the Swiss mix)."},
    )
    max_eval_samples: int | None = field(
        default=None,
        metadata={"help": "Keep only the first N evaluation sentences per language."},
    )
    num_epochs: int = field(default=3, metadata={"help": "Passes over the training data."})
    max_steps: int | None = field(
        default=None,
        metadata={"help": "Stop after this many optimizer steps (overrides --num-epochs)."},
    )
    batch_size: int = field(default=24, metadata={"help": "Sentences per batch and process."})
    eval_batch_size: int = field(default=64, metadata={"help": "Sentences per evaluation batch."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak learning rate of AdamW."})
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay (not applied to biases/LayerNorm)."}
    )
    warmup_ratio: float = field(
        default=0.0,
        metadata={"help": "Fraction of the steps spent warming the learning rate up linearly."},
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "Batches accumulated per optimizer step."}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    max_length: int = field(
        default=512, metadata={"help": "Truncate sentences to this many sub-word tokens."}
    )
    label_all_tokens: bool = field(
        default=True,
        metadata={
            "help": "Train on every sub-word (continuation pieces get the word's I- tag) so that "
            "pipeline(aggregation_strategy='simple') returns whole words. Scoring stays per word. "
            "--no-label-all-tokens labels only the first piece, as the book does."
        },
    )
    consistency_weight: float = field(
        default=1.0,
        metadata={
            "help": "Weight of a loss that makes the sub-words of a word predict the same tag "
            "(B- read as I-), so the simple aggregation returns whole words; 0 disables it."
        },
    )
    mixed_precision: str | None = field(
        default=None,
        metadata={
            "help": "no, fp16 or bf16; by default the setting of `accelerate launch` / its config."
        },
    )
    cpu: bool = field(
        default=False,
        metadata={
            "help": "Train on CPU even if a GPU is present (several CPU processes under torchrun "
            "use gloo; chosen automatically when torchrun starts processes on a GPU-less machine)."
        },
    )
    seed: int = field(default=42, metadata={"help": "Seed of the Swiss mix, shuffling and init."})
    checkpointing_steps: int | None = field(
        default=None,
        metadata={"help": "Also save a checkpoint every N optimizer steps (one per epoch always)."},
    )
    resume_from: str | None = field(
        default=None,
        metadata={
            "help": "Checkpoint folder to resume from, or 'latest' for the newest in --output-dir; "
            "training continues at the next step."
        },
    )
    report_to: str = field(
        default="tensorboard",
        metadata={"help": "Accelerate tracker: tensorboard, wandb, mlflow, all, or none."},
    )
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes."})
    push_to_hub: bool = field(
        default=False, metadata={"help": "Push the publish folder to the Hub at the end."}
    )
    hub_model_id: str | None = field(
        default=None, metadata={"help": "Hub repository id, e.g. org/xlmr-panx-ch."}
    )
    hub_private: bool = field(default=False, metadata={"help": "Create the Hub repo private."})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def validate(self) -> None:
        if len(self.langs) != len(self.fracs):
            raise ValueError(f"--langs has {len(self.langs)} entries but --fracs {len(self.fracs)}")
        for lang in [*self.train_langs, *self.eval_langs]:
            if lang not in self.langs:
                raise ValueError(f"language {lang!r} is not in --langs {self.langs}")
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("--push-to-hub needs --hub-model-id org/name")
        if self.mixed_precision not in (None, "no", "fp16", "bf16"):
            raise ValueError(
                f"--mixed-precision must be no, fp16 or bf16, not {self.mixed_precision}"
            )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser(
    cls: type = TrainConfig, description: str | None = None
) -> argparse.ArgumentParser:
    """An argparse parser with one option per dataclass field, its help taken from the field."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        help_text = f.metadata.get("help", "")
        type_name = str(f.type)
        flags = [_flag(f.name), *f.metadata.get("aliases", ())]
        if type_name == "bool":
            parser.add_argument(
                *flags, default=default, action=argparse.BooleanOptionalAction, help=help_text
            )
        elif type_name.startswith("list["):
            item = float if "float" in type_name else str
            parser.add_argument(*flags, default=default, nargs="+", type=item, help=help_text)
        else:
            base = type_name.split(" |")[0]
            conv = {"int": int, "float": float, "str": str}[base]
            parser.add_argument(*flags, default=default, type=conv, help=help_text)
    return parser


def parse_config(argv: list[str] | None = None, description: str | None = None) -> TrainConfig:
    """Parse the command line into a validated :class:`TrainConfig`."""
    args = build_parser(TrainConfig, description).parse_args(argv)
    config = TrainConfig(**vars(args))
    config.validate()
    return config
