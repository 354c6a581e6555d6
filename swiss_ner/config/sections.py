"""The sections of a training run's options, one dataclass each, every one checking its own.

:class:`~swiss_ner.config.training.TrainConfig` holds one of each; on the command line their
options stay flat (``--batch-size``, not ``--batching.batch-size``) and ``--help`` shows one
group per section. Each option's role (what the resume fingerprint, the experiment cache and
the card make of it) is stated once, in its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from swiss_ner.config.fields import (
    BOOKKEEPING,
    RESULTS,
    ConfigError,
    check_bounds,
    check_repo_id,
    one_of,
    option,
)
from swiss_ner.constants import SWISS_FRACS, SWISS_LANGS, TAG_SCHEMES, check_iob2_labels

COMPILE_MODES = ("no", "default", "reduce-overhead", "max-autotune-no-cudagraphs")
MATMUL_PRECISIONS = ("highest", "high", "medium")


def check_data_options(config: Any) -> None:
    """Refuse file options without --data-dir, and a --label-names set that is not IOB2."""
    one_of("tag_scheme", config.tag_scheme, TAG_SCHEMES)
    if config.data_dir is None and (config.tag_scheme != "iob2" or config.tag_column):
        raise ConfigError("--tag-scheme and --tag-column describe the files in --data-dir; "
                          "google/xtreme is read as published (IOB2)")
    try:
        check_iob2_labels(getattr(config, "label_names", None) or ())
    except ValueError as error:
        raise ConfigError(str(error)) from None


@dataclass
class DataOptions:
    """The sentences a run trains and is scored on, and how their files are read."""

    data_dir: str | None = field(
        default=None,
        metadata=option(
            "Folder of files named {split}-{lang}.tsv (TOKEN<TAB>TAG or CoNLL columns); omit "
            "to load google/xtreme PAN-X.<lang> from the Hub."
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
        metadata=option("Languages trained on; several are concatenated and shuffled.", card=True),
    )
    eval_langs: list[str] = field(
        default_factory=lambda: list(SWISS_LANGS),
        metadata=option("Languages evaluated after each epoch (F1 per language).", role=RESULTS),
    )
    label_names: list[str] | None = field(
        default=None,
        metadata=option(
            "IOB2 label set of the data (default PAN-X's O B-PER I-PER B-ORG I-ORG B-LOC I-LOC); "
            "classifier rows of --model are kept by label name, new labels start fresh."
        ),
    )
    tag_scheme: str = field(default="iob2", metadata=option(
        "Tag scheme of the --data-dir files, converted to IOB2 as they are read: iob2, iob1 "
        "(entities begin with I-, as CoNLL-2003) or bioes (S- single, E- last).",
        choices=TAG_SCHEMES))
    tag_column: int | None = field(default=None, metadata=option(
        "Column of the tag in the files, from 1 (default: the last; 1 is the token).", minimum=2))
    eval_split: str = field(
        default="validation",
        metadata=option(
            "Split evaluated after each epoch (model selection never sees test).", card=True
        ),
    )
    max_train_samples: int | None = field(
        default=None,
        metadata=option(
            "Keep only the first N training sentences (after the mix).", card=True, minimum=1
        ),
    )
    max_eval_samples: int | None = field(
        default=None,
        metadata=option(
            "Keep only the first N evaluation sentences per language.",
            role=RESULTS,
            card=True,
            minimum=1,
        ),
    )
    max_length: int = field(
        default=512,
        metadata=option(
            "Longest sentence in sub-words; longer ones are counted and reported.",
            card=True,
            minimum=1,
        ),
    )
    label_all_tokens: bool = field(
        default=True,
        metadata=option(
            "Train on every sub-word (continuation pieces get the word's I- tag) so that "
            "pipeline(aggregation_strategy='simple') returns whole words; scores stay per word. "
            "--no-label-all-tokens labels only the first piece, as the book does.",
            card=True,
        ),
    )

    def validate(self) -> None:
        """Refuse a mix that does not add up and languages outside it."""
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
        check_bounds(self)
        check_data_options(self)


@dataclass
class OptimisationOptions:
    """How the weights are updated: AdamW, its schedule, clipping and the sub-word loss."""

    learning_rate: float = field(
        default=5e-5, metadata=option("Peak learning rate of AdamW.", card=True, above=0)
    )
    weight_decay: float = field(
        default=0.01,
        metadata=option("AdamW weight decay (not on biases and LayerNorm).", card=True, minimum=0),
    )
    warmup_ratio: float = field(
        default=0.0,
        metadata=option("Fraction of the steps warming the learning rate up.", card=True),
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata=option("Batches accumulated per optimizer step.", card=True, minimum=1)
    )
    max_grad_norm: float = field(
        default=1.0, metadata=option("Gradient clipping norm.", card=True, minimum=0)
    )
    consistency_weight: float = field(
        default=1.0,
        metadata=option(
            "Weight of a loss that makes the sub-words of a word predict the same tag (B- read "
            "as I-), so the simple aggregation returns whole words; 0 disables it.",
            card=True,
            minimum=0,
        ),
    )
    fused_adamw: bool = field(
        default=True, metadata=option("Use torch's fused AdamW kernel (CPU and CUDA).")
    )

    def validate(self) -> None:
        """Refuse bounds the metadata states and a warm-up that never ends."""
        check_bounds(self)
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"--warmup-ratio must lie in [0, 1), got {self.warmup_ratio}")


@dataclass
class BatchingOptions:
    """How sentences become batches: their size, order, packing, padding and loading."""

    batch_size: int = field(
        default=24, metadata=option("Sentences per batch and process.", card=True, minimum=1)
    )
    eval_batch_size: int = field(
        default=64, metadata=option("Sentences per evaluation batch.", role=BOOKKEEPING, minimum=1)
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
            "(measured: 64 lost 0.02-0.03 F1 after one epoch, 8 kept random sampling's F1).",
            minimum=1,
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
    pad_to: int | None = field(
        default=None,
        metadata=option(
            "Pad batches to a multiple of N tokens (default 8 with mixed precision or "
            "--matmul-precision other than highest, 32 with --compile reduce-overhead).",
            minimum=1,
        ),
    )
    num_workers: int = field(
        default=0, metadata=option("DataLoader worker processes.", role=BOOKKEEPING, minimum=0)
    )

    def validate(self) -> None:
        """Refuse bounds the metadata states."""
        check_bounds(self)


@dataclass
class DeviceOptions:
    """Where and how the arithmetic runs: CPU or GPU, threads, precision, compilation."""

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
    num_threads: int | None = field(
        default=None,
        metadata=option(
            "CPU threads for torch (default: every core, also under accelerate).",
            role=BOOKKEEPING,
            minimum=1,
        ),
    )
    matmul_precision: str = field(
        default="highest",
        metadata=option(
            "Precision of float32 matrix products (torch.set_float32_matmul_precision): "
            "'highest' keeps full float32; 'high' allows TF32 on NVIDIA GPUs; 'medium' also "
            "allows bfloat16 products with float32 sums, which CPUs with AMX or AVX512-BF16 "
            "multiply 2.3-2.9x faster (bench/RESULTS.md). Default: highest.",
            choices=MATMUL_PRECISIONS,
            card=True,
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

    def validate(self) -> None:
        """Refuse bounds the metadata states and modes outside the choices (a file written by
        hand or by an older version is not parsed by argparse)."""
        check_bounds(self)
        one_of("compile", self.compile, COMPILE_MODES)
        one_of("matmul_precision", self.matmul_precision, MATMUL_PRECISIONS)


@dataclass
class CheckpointOptions:
    """When checkpoints are written and kept, and which one a run continues from."""

    checkpointing_steps: int | None = field(
        default=None,
        metadata=option(
            "Also save a checkpoint every N optimizer steps (one per epoch always).",
            role=BOOKKEEPING,
            minimum=1,
        ),
    )
    save_total_limit: int | None = field(
        default=2,
        metadata=option(
            "Keep only the newest N checkpoints (none: keep all).", role=BOOKKEEPING, minimum=1
        ),
    )
    resume_from: str | None = field(
        default=None,
        metadata=option(
            "Checkpoint folder to resume from, or 'latest' for this run's newest in "
            "--output-dir; training continues at the next step.",
            role=BOOKKEEPING,
        ),
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata=option(
            "Start afresh in an --output-dir that holds another run's checkpoints.",
            role=BOOKKEEPING,
        ),
    )

    def validate(self) -> None:
        """Refuse bounds the metadata states."""
        check_bounds(self)


@dataclass
class HubOptions:
    """Publishing the finished run to the Hugging Face Hub."""

    push_to_hub: bool = field(
        default=False,
        metadata=option("Push the output folder to the Hub at the end.", role=BOOKKEEPING),
    )
    hub_model_id: str | None = field(
        default=None,
        metadata=option("Hub repository id, e.g. my-org/xlmr-panx-ch.", role=BOOKKEEPING),
    )
    hub_private: bool | None = field(
        default=None,
        metadata=option(
            "Create the Hub repo private (default: the namespace's own default).", role=BOOKKEEPING
        ),
    )

    def validate(self) -> None:
        """Refuse a push without a valid repository id before hours of training, not after."""
        if self.push_to_hub and not self.hub_model_id:
            raise ConfigError("--push-to-hub needs --hub-model-id org/name")
        if self.hub_model_id:
            check_repo_id(self.hub_model_id, "--hub-model-id")
