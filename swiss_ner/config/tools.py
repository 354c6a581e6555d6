"""The configurations of the commands that use a trained model: analyse, push, make-small-model,
tag and demo."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from swiss_ner.config.fields import (
    DEFAULT_PANX_DIR,
    MODEL_ENV,
    ConfigError,
    at_least,
    check_repo_id,
    check_tagger_options,
    compile_option,
    dtype_option,
    option,
)
from swiss_ner.config.sections import check_data_options
from swiss_ner.constants import SWISS_LANGS, TAG_SCHEMES


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
    tag_scheme: str = field(default="iob2", metadata=option(
        "Tag scheme of the --data-dir files (iob2, iob1, bioes), converted to IOB2 as read.",
        choices=TAG_SCHEMES))
    tag_column: int | None = field(default=None, metadata=option(
        "Column of the tag in the files, from 1 (default: the last; 1 is the token)."))

    def validate(self) -> None:
        for name in ("batch_size", "top_k", "min_count", "max_length", "max_samples"):
            at_least(name, getattr(self, name), 1)
        at_least("tag_column", self.tag_column, 2)
        if not 0 < self.threshold < 1:
            raise ConfigError(f"--threshold must lie in (0, 1), got {self.threshold}")
        check_data_options(self)


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
            at_least(name, getattr(self, name), 1)
        at_least("max_position_embeddings", self.max_position_embeddings, 3)
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
    dtype: str = field(default="float32", metadata=dtype_option())
    compile: bool = field(default=False, metadata=compile_option())

    def validate(self) -> None:
        if not self.model:
            raise ConfigError(f"--model is required (or set {MODEL_ENV})")
        at_least("batch_size", self.batch_size, 1)
        check_tagger_options(self.dtype, self.quantize, self.compile)


@dataclass
class DemoConfig:
    """Try a model in the browser: the Gradio app that the demo Space runs, served locally."""

    model: str | None = field(
        default_factory=lambda: os.environ.get(MODEL_ENV),
        metadata=option(f"Local model folder or Hub repo id (default: ${MODEL_ENV})."),
    )
    host: str = field(default="127.0.0.1", metadata=option("Address to serve on."))
    port: int = field(default=7860, metadata=option("Port to serve on (1-65535)."))

    def validate(self) -> None:
        if not self.model:
            raise ConfigError(f"--model is required (or set {MODEL_ENV})")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"--port must lie in 1-65535, got {self.port}")
