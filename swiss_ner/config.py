"""One configuration dataclass per command, parsed one way, saved with the results.

Each field carries its help text (and, where needed, extra ``argparse`` keywords) in its
metadata; :func:`add_arguments` turns any of these dataclasses into command-line options and
:func:`parse_config` back into a validated instance. Only the standard library is imported, so
``swiss-ner --help`` stays instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from swiss_ner.constants import DEFAULT_MODEL, SWISS_FRACS, SWISS_LANGS

MODEL_ENV = "SWISS_NER_MODEL"
DEFAULT_PANX_DIR = "../shared/data/panx"
STRATEGIES: tuple[str, ...] = ("zero-shot", "learning-curve", "each", "all")
CURVE_SIZES: tuple[int, ...] = (250, 500, 1000, 2000, 4000)


COMPILE_MODES = ("no", "default", "reduce-overhead", "max-autotune-no-cudagraphs")
MATMUL_PRECISIONS = ("highest", "high", "medium")


class ConfigError(ValueError):
    """An option value that cannot work; the message names the option and what is allowed."""


def option(help: str, **argparse_kwargs: Any) -> dict:
    """Field metadata: the help text and any extra ``add_argument`` keywords."""
    return {"help": help, "argparse": argparse_kwargs}


def _at_least(name: str, value: float | None, minimum: float, strict: bool = False) -> None:
    if value is None:
        return
    if value < minimum or (strict and value == minimum):
        relation = "greater than" if strict else "at least"
        raise ConfigError(f"--{name.replace('_', '-')} must be {relation} {minimum}, got {value}")


def _one_of(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Refuse a value outside the choices (a config written by hand or by an older version)."""
    if value not in choices:
        raise ConfigError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, "
                          f"got {value!r}")


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved in results.json and train_config.json."""

    model_name_or_path: str = field(
        default=DEFAULT_MODEL,
        metadata=option(
            "Hub id (e.g. FacebookAI/xlm-roberta-base) or local folder of the model to "
            "fine-tune; the folder must hold its tokenizer.",
            aliases=("--model",),
        ),
    )
    output_dir: str = field(
        default="outputs/xlmr-panx-ch",
        metadata=option("Folder for checkpoints, the final model, tokenizer and results.json."),
    )
    data_dir: str | None = field(
        default=None,
        metadata=option(
            "Folder of IOB2 files named {split}-{lang}.tsv; omit to load google/xtreme "
            "PAN-X.<lang> from the Hub."
        ),
    )
    langs: list[str] = field(
        default_factory=lambda: list(SWISS_LANGS), metadata=option("Languages of the Swiss mix.")
    )
    fracs: list[float] = field(
        default_factory=lambda: list(SWISS_FRACS),
        metadata=option("Fraction (0 < f <= 1) of each language's splits kept, as --langs."),
    )
    train_langs: list[str] = field(
        default_factory=lambda: ["de"],
        metadata=option("Languages trained on; several are concatenated and shuffled."),
    )
    eval_langs: list[str] = field(
        default_factory=lambda: list(SWISS_LANGS),
        metadata=option("Languages evaluated after each epoch (F1 per language)."),
    )
    label_names: list[str] | None = field(
        default=None,
        metadata=option(
            "IOB2 label set of the data (default PAN-X's O B-PER I-PER B-ORG I-ORG B-LOC I-LOC); "
            "classifier rows of --model are kept by label name, new labels start fresh."
        ),
    )
    eval_split: str = field(
        default="validation",
        metadata=option("Split evaluated after each epoch (model selection never sees test)."),
    )
    max_train_samples: int | None = field(
        default=None, metadata=option("Keep only the first N training sentences (after the mix).")
    )
    max_eval_samples: int | None = field(
        default=None, metadata=option("Keep only the first N evaluation sentences per language.")
    )
    num_epochs: int = field(default=3, metadata=option("Passes over the training data."))
    max_steps: int | None = field(
        default=None, metadata=option("Stop after this many optimizer steps (overrides epochs).")
    )
    batch_size: int = field(default=24, metadata=option("Sentences per batch and process."))
    eval_batch_size: int = field(default=64, metadata=option("Sentences per evaluation batch."))
    learning_rate: float = field(default=5e-5, metadata=option("Peak learning rate of AdamW."))
    weight_decay: float = field(
        default=0.01, metadata=option("AdamW weight decay (not on biases and LayerNorm).")
    )
    warmup_ratio: float = field(
        default=0.0, metadata=option("Fraction of the steps warming the learning rate up.")
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata=option("Batches accumulated per optimizer step.")
    )
    max_grad_norm: float = field(default=1.0, metadata=option("Gradient clipping norm."))
    max_length: int = field(
        default=512,
        metadata=option("Longest sentence in sub-words; longer ones are counted and reported."),
    )
    label_all_tokens: bool = field(
        default=True,
        metadata=option(
            "Train on every sub-word (continuation pieces get the word's I- tag) so that "
            "pipeline(aggregation_strategy='simple') returns whole words; scores stay per word. "
            "--no-label-all-tokens labels only the first piece, as the book does."
        ),
    )
    consistency_weight: float = field(
        default=1.0,
        metadata=option(
            "Weight of a loss that makes the sub-words of a word predict the same tag (B- read "
            "as I-), so the simple aggregation returns whole words; 0 disables it."
        ),
    )
    group_by_length: bool | None = field(
        default=None,
        metadata=option(
            "Batches of similar length (shuffled mega-batches sorted inside, batch order "
            "shuffled each epoch): far less padding. Default: on unless packing. "
            "--no-group-by-length samples at random."
        ),
    )
    length_group_size: int = field(
        default=8,
        metadata=option(
            "Batches per length-sorted group: larger groups pad less but mix lengths less "
            "(measured: 64 lost 0.02-0.03 F1 after one epoch, 8 kept random sampling's F1)."
        ),
    )
    pack: bool | None = field(
        default=None,
        metadata=option(
            "Pack each batch's sentences into as few rows as its longest allows, each attending "
            "only to itself: the same loss as padding, with a fraction of the padded tokens. "
            "Default: on when training on the CPU (measured fastest there, with random "
            "batches), off on a GPU (not measured there)."
        ),
    )
    log_every: int = field(
        default=50,
        metadata=option(
            "Log the mean loss every N steps; the loss stays on the device in between, so the "
            "host does not wait for the accelerator every step."
        ),
    )
    fused_adamw: bool = field(
        default=True, metadata=option("Use torch's fused AdamW kernel (CPU and CUDA).")
    )
    compile: str = field(
        default="no",
        metadata=option(
            "torch.compile through accelerate's dynamo plugin, with dynamic shapes so one graph "
            "serves every batch length: 'default' fuses kernels; 'reduce-overhead' also replays "
            "CUDA graphs (GPU), one per padded length, so pad to few lengths (--pad-to, 32 by "
            "default there).",
            choices=COMPILE_MODES,
        ),
    )
    pad_to: int | None = field(
        default=None,
        metadata=option(
            "Pad batches to a multiple of N tokens (default 8 with mixed precision or "
            "--matmul-precision other than highest, 32 with --compile reduce-overhead)."
        ),
    )
    num_threads: int | None = field(
        default=None,
        metadata=option("CPU threads for torch (default: every core, also under accelerate)."),
    )
    matmul_precision: str = field(
        default="highest",
        metadata=option(
            "Precision of float32 matrix products (torch.set_float32_matmul_precision): "
            "'highest' keeps full float32; 'high' allows TF32 on NVIDIA GPUs; 'medium' also "
            "allows bfloat16 products with float32 sums, which CPUs with AMX or AVX512-BF16 "
            "multiply 2.3-2.9x faster (bench/RESULTS.md). Default: highest.",
            choices=MATMUL_PRECISIONS,
        ),
    )
    mixed_precision: str | None = field(
        default=None,
        metadata=option(
            "no, fp16 or bf16; by default the setting of `accelerate launch` or its config.",
            choices=("no", "fp16", "bf16"),
        ),
    )
    cpu: bool = field(
        default=False,
        metadata=option(
            "Train on the CPU even if a GPU is present (CPU processes under torchrun use gloo)."
        ),
    )
    seed: int = field(default=42, metadata=option("Seed of the Swiss mix, shuffling and init."))
    checkpointing_steps: int | None = field(
        default=None,
        metadata=option("Also save a checkpoint every N optimizer steps (one per epoch always)."),
    )
    save_total_limit: int | None = field(
        default=2, metadata=option("Keep only the newest N checkpoints (none: keep all).")
    )
    resume_from: str | None = field(
        default=None,
        metadata=option(
            "Checkpoint folder to resume from, or 'latest' for this run's newest in "
            "--output-dir; training continues at the next step."
        ),
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata=option("Start afresh in an --output-dir that holds another run's checkpoints."),
    )
    report_to: str = field(
        default="tensorboard",
        metadata=option("Accelerate tracker: tensorboard, wandb, mlflow, all, or none."),
    )
    num_workers: int = field(default=0, metadata=option("DataLoader worker processes."))
    push_to_hub: bool = field(
        default=False, metadata=option("Push the output folder to the Hub at the end.")
    )
    hub_model_id: str | None = field(
        default=None, metadata=option("Hub repository id, e.g. my-org/xlmr-panx-ch.")
    )
    hub_private: bool | None = field(
        default=None,
        metadata=option("Create the Hub repo private (default: the namespace's own default)."),
    )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def for_device(self, device_type: str) -> TrainConfig:
        """The batching defaults filled in for the device, as measured (bench/RESULTS.md):
        random batches packed into few rows on the CPU, length-grouped batches on a GPU."""
        pack = self.pack if self.pack is not None else device_type == "cpu"
        group = self.group_by_length if self.group_by_length is not None else not pack
        return dataclasses.replace(self, pack=pack, group_by_length=group)

    def validate(self) -> None:
        """Refuse values that cannot give a right run, naming the option and the allowed range."""
        if len(self.langs) != len(self.fracs):
            raise ConfigError(
                f"--langs has {len(self.langs)} entries but --fracs {len(self.fracs)}"
            )
        for frac in self.fracs:
            if not 0 < frac <= 1:
                raise ConfigError(f"--fracs must lie in (0, 1], got {frac}")
        for lang in [*self.train_langs, *self.eval_langs]:
            if lang not in self.langs:
                raise ConfigError(f"language {lang!r} is not in --langs {self.langs}")
        for name in ("batch_size", "eval_batch_size", "gradient_accumulation_steps", "num_epochs",
                     "max_length", "log_every", "length_group_size", "max_train_samples",
                     "max_eval_samples", "max_steps", "checkpointing_steps", "save_total_limit",
                     "num_threads", "pad_to"):
            _at_least(name, getattr(self, name), 1)
        _at_least("learning_rate", self.learning_rate, 0, strict=True)
        for name in ("weight_decay", "max_grad_norm", "consistency_weight", "num_workers"):
            _at_least(name, getattr(self, name), 0)
        _one_of("compile", self.compile, COMPILE_MODES)
        _one_of("matmul_precision", self.matmul_precision, MATMUL_PRECISIONS)
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"--warmup-ratio must lie in [0, 1), got {self.warmup_ratio}")
        if self.push_to_hub and not self.hub_model_id:
            raise ConfigError("--push-to-hub needs --hub-model-id org/name")
        if self.hub_model_id:
            check_repo_id(self.hub_model_id, "--hub-model-id")


def check_repo_id(repo_id: str, option_name: str) -> None:
    """Raise :class:`ConfigError` unless ``repo_id`` is a valid Hub id such as ``org/name``."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ConfigError(f"{option_name} {repo_id!r} is not a valid Hub id: {error}") from None


def is_hub_model_id(name_or_path: str | None) -> bool:
    """Whether ``name_or_path`` names a Hub model (``org/name``) rather than a local folder."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not name_or_path or Path(name_or_path).expanduser().exists():
        return False
    if name_or_path.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(name_or_path)
    except HFValidationError:
        return False
    return True


@dataclass
class ReportConfig(TrainConfig):
    """The cross-lingual report: the training options of its runs plus the report's own."""

    HIDDEN = ("output_dir",)  # each run gets its folder under --report-dir

    report_dir: str = field(
        default="reports/crosslingual",
        metadata=option("Folder for the report files and the runs (runs/<name>)."),
    )
    strategies: list[str] = field(
        default_factory=lambda: list(STRATEGIES),
        metadata=option("Strategies to run.", choices=STRATEGIES),
    )
    curve_sizes: list[int] = field(
        default_factory=lambda: list(CURVE_SIZES),
        metadata=option("Target-language training sizes of the learning curve (capped)."),
    )
    source_lang: str = field(default="de", metadata=option("Language of the zero-shot model."))
    target_lang: str = field(default="fr", metadata=option("Language of the learning curve."))
    seeds: int = field(
        default=1,
        metadata=option(
            "Seeds per run (seed, seed+1, ...): tables give mean ± std across seeds; with one "
            "seed each F1 carries its 95% bootstrap interval."
        ),
    )
    keep_weights: bool = field(
        default=True,
        metadata=option("Keep each run's final weights (checkpoints are deleted after a run)."),
    )

    def validate(self) -> None:
        super().validate()
        _at_least("seeds", self.seeds, 1)
        for lang in (self.source_lang, self.target_lang):
            if lang not in self.langs:
                raise ConfigError(f"language {lang!r} is not in --langs {self.langs}")

    def train_config(self) -> TrainConfig:
        """The shared training options of every run."""
        names = [f.name for f in dataclasses.fields(TrainConfig)]
        return TrainConfig(**{name: getattr(self, name) for name in names})


@dataclass
class AnalyseConfig:
    """Error analysis of a trained model on one language and split."""

    model_dir: str = field(
        metadata=option("Folder of a trained model (config, weights, tokenizer).", positional=True)
    )
    data_dir: str | None = field(
        default=None, metadata=option("Folder of {split}-{lang}.tsv files; omit for the Hub.")
    )
    lang: str = field(default="de", metadata=option("Language to analyse."))
    split: str = field(default="validation", metadata=option("Split to analyse."))
    max_samples: int | None = field(
        default=None, metadata=option("Analyse only the first N sentences.")
    )
    output_dir: str | None = field(
        default=None, metadata=option("Report folder (default MODEL_DIR/error_analysis).")
    )
    batch_size: int = field(default=32, metadata=option("Sentences per batch."))
    top_k: int = field(
        default=5, metadata=option("Highest-loss sentences and suspected label errors to list.")
    )
    min_count: int = field(
        default=5, metadata=option("Occurrences a token needs to enter the loss-by-token table.")
    )
    threshold: float = field(
        default=0.9,
        metadata=option("Probability of a non-gold label that flags a likely annotation error."),
    )
    max_length: int = field(default=512, metadata=option("Longest sentence in sub-words."))

    def validate(self) -> None:
        for name in ("batch_size", "top_k", "min_count", "max_length", "max_samples"):
            _at_least(name, getattr(self, name), 1)
        if not 0 < self.threshold < 1:
            raise ConfigError(f"--threshold must lie in (0, 1), got {self.threshold}")


@dataclass
class PushConfig:
    """Upload a training output folder (and optionally a demo Space) to the Hub."""

    output_dir: str = field(metadata=option("The training --output-dir.", positional=True))
    repo_id: str = field(
        metadata=option("Hub model repository, e.g. my-org/xlmr-panx-ch.", required=True)
    )
    private: bool | None = field(
        default=None,
        metadata=option("Create the repository private (default: the namespace's default)."),
    )
    revision: str | None = field(
        default=None, metadata=option("Branch to push to (created if missing); default main.")
    )
    commit_message: str | None = field(
        default=None, metadata=option("Commit title; default names the run and its F1.")
    )
    dry_run: bool = field(
        default=False,
        metadata=option("Render the card and list the files that would go up; push nothing."),
    )
    token: str | None = field(
        default=None, metadata=option("Hub token with write access (default: HF_TOKEN or login).")
    )
    space: str | None = field(
        default=None,
        metadata=option("Also create or update a Gradio demo Space with this id (ORG/NAME-demo)."),
    )
    with_space: bool = field(
        default=False, metadata=option("Also push a demo Space named REPO_ID-demo.")
    )

    def validate(self) -> None:
        check_repo_id(self.repo_id, "--repo-id")
        if self.space:
            check_repo_id(self.space, "--space")

    @property
    def space_id(self) -> str | None:
        """The demo Space's id, if one is asked for."""
        return self.space or (f"{self.repo_id}-demo" if self.with_space else None)


@dataclass
class SmallModelConfig:
    """A small XLM-R-architecture model from scratch, with a tokenizer trained on PAN-X."""

    output_dir: str = field(
        default="models/xlmr-small", metadata=option("Folder to write the model into.")
    )
    data_dir: str = field(
        default=DEFAULT_PANX_DIR,
        metadata=option("Folder with train-{lang}.tsv files (TOKEN<TAB>TAG)."),
    )
    langs: list[str] = field(
        default_factory=lambda: list(SWISS_LANGS),
        metadata=option("Languages whose training text the tokenizer learns from."),
    )
    vocab_size: int = field(
        default=16000, metadata=option("Target number of tokenizer pieces, specials included.")
    )
    hidden_size: int = field(default=256, metadata=option("Width of every layer."))
    num_layers: int = field(default=4, metadata=option("Transformer layers."))
    num_heads: int = field(default=4, metadata=option("Attention heads (divides --hidden-size)."))
    intermediate_size: int = field(default=1024, metadata=option("Feed-forward width per layer."))
    max_position_embeddings: int = field(default=514, metadata=option("Position table size."))
    max_sentences_per_lang: int | None = field(
        default=None, metadata=option("Use only N sentences per language for the tokenizer.")
    )
    seed: int = field(default=42, metadata=option("Seed of the weight initialisation."))

    def validate(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads",
                     "intermediate_size", "max_sentences_per_lang"):
            _at_least(name, getattr(self, name), 1)
        _at_least("max_position_embeddings", self.max_position_embeddings, 3)
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"--num-heads {self.num_heads} must divide --hidden-size {self.hidden_size}"
            )


@dataclass
class TagConfig:
    """Tag entities in raw text."""

    texts: list[str] = field(
        default_factory=list,
        metadata=option('Texts to tag; "-" reads stdin.', positional=True, metavar="TEXT"),
    )
    model: str | None = field(
        default_factory=lambda: os.environ.get(MODEL_ENV),
        metadata=option(f"Local model folder or Hub repo id (default: ${MODEL_ENV})."),
    )
    file: list[str] = field(
        default_factory=list,
        metadata=option(
            "File with one text per line (UTF-8; blank lines skipped); may be repeated.",
            action="append",
            metavar="PATH",
        ),
    )
    json: bool = field(default=False, metadata=option("Print one JSON object per text."))
    batch_size: int | None = field(default=None, metadata=option("Windows per forward pass."))
    device: str | None = field(default=None, metadata=option("Torch device: cpu, cuda:0, ..."))
    quantize: bool = field(default=False, metadata=option("int8 Linear layers (CPU only)."))

    def validate(self) -> None:
        if not self.model:
            raise ConfigError(f"--model is required (or set {MODEL_ENV})")
        _at_least("batch_size", self.batch_size, 1)


@dataclass
class DemoConfig:
    """Try a model in the browser: the Gradio app that the demo Space runs, served locally."""

    model: str | None = field(
        default_factory=lambda: os.environ.get(MODEL_ENV),
        metadata=option(f"Local model folder or Hub repo id (default: ${MODEL_ENV})."),
    )
    host: str = field(default="127.0.0.1", metadata=option("Address to serve on."))
    port: int = field(default=7860, metadata=option("Port to serve on."))

    def validate(self) -> None:
        if not self.model:
            raise ConfigError(f"--model is required (or set {MODEL_ENV})")
        _at_least("port", self.port, 1)


ConfigT = TypeVar("ConfigT")


def _argument(f: dataclasses.Field) -> tuple[list[str], dict]:
    """The flags and ``add_argument`` keywords of one dataclass field."""
    meta = f.metadata
    extra = dict(meta.get("argparse", {}))
    positional = extra.pop("positional", False)
    aliases = extra.pop("aliases", ())
    type_name = str(f.type)
    kwargs: dict[str, Any] = {"help": meta.get("help", "")}
    if f.default is not dataclasses.MISSING:
        kwargs["default"] = f.default
    elif f.default_factory is not dataclasses.MISSING:
        kwargs["default"] = f.default_factory()
    if type_name.startswith("bool"):
        kwargs["action"] = argparse.BooleanOptionalAction
    elif type_name.startswith("list["):
        kwargs["type"] = {"float": float, "int": int}.get(type_name[5:].split("]")[0], str)
        kwargs["nargs"] = "*" if positional else "+"
    else:
        kwargs["type"] = {"int": int, "float": float}.get(type_name.split(" |")[0], str)
    kwargs.update(extra)
    if kwargs.get("action") == "append":
        kwargs.pop("nargs", None)
    if positional:
        if "default" not in kwargs:
            kwargs.pop("default", None)
        return [f.name], kwargs
    if "default" not in kwargs and not kwargs.get("required"):
        kwargs["required"] = True
    return ["--" + f.name.replace("_", "-"), *aliases], kwargs


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> argparse.ArgumentParser:
    """One option per field of the dataclass ``cls``, its help taken from the field."""
    hidden = getattr(cls, "HIDDEN", ())
    for f in dataclasses.fields(cls):
        flags, kwargs = _argument(f)
        if f.name in hidden:
            kwargs["help"] = argparse.SUPPRESS
        else:
            kwargs["help"] = kwargs["help"].replace("%", "%%")  # argparse formats help with %
        parser.add_argument(*flags, **kwargs)
    return parser


def config_from_namespace(cls: type[ConfigT], namespace: argparse.Namespace) -> ConfigT:
    """The dataclass ``cls`` from parsed arguments (unknown attributes ignored), validated."""
    names = {f.name for f in dataclasses.fields(cls)}
    config = cls(**{k: v for k, v in vars(namespace).items() if k in names})
    config.validate()
    return config


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each default, except an unset one whose help already says what happens then."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None and "default" in (action.help or "").lower():
            return action.help
        return super()._get_help_string(action)


def parse_config(
    argv: list[str] | None = None, cls: type[ConfigT] = TrainConfig, description: str = ""
) -> ConfigT:
    """Parse a command line into a validated ``cls`` (for the scripts and the tests)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=HelpFormatter
    )
    return config_from_namespace(cls, add_arguments(parser, cls).parse_args(argv))
