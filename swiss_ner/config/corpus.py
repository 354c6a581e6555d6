"""The configuration of ``swiss-ner tag-corpus``: tag a corpus of files into Parquet shards."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from swiss_ner.config.fields import (
    MODEL_ENV,
    ConfigError,
    at_least,
    check_tagger_options,
    compile_option,
    dtype_option,
    one_of,
    option,
)

CORPUS_FORMATS = ("parquet", "jsonl")
ENGINES = ("local", "ray")


@dataclass
class CorpusConfig:
    """Tag every document of a corpus and write one output row per input row."""

    inputs: list[str] = field(
        default_factory=list,
        metadata=option(
            "Input files: *.jsonl, *.parquet, *.csv, or *.txt with one document per line.",
            positional=True,
            metavar="INPUT",
        ),
    )
    output: str | None = field(
        default=None,
        metadata=option("Output folder of shards and _manifest.json (required).", aliases=("-o",)),
    )
    model: str | None = field(
        default_factory=lambda: os.environ.get(MODEL_ENV),
        metadata=option(f"Local model folder or Hub repo id (default: ${MODEL_ENV})."),
    )
    text_column: str = field(
        default="text", metadata=option("Column that holds the documents (default: text).")
    )
    id_column: str | None = field(
        default=None,
        metadata=option("Column copied into the output's id, as a string (default: row number)."),
    )
    format: str = field(
        default="parquet",
        metadata=option("Shard format (default: parquet).", choices=CORPUS_FORMATS),
    )
    shard_size: int = field(
        default=10_000,
        metadata=option("Documents per output shard, the unit of resuming (default: 10000)."),
    )
    chunk_size: int = field(
        default=1024,
        metadata=option(
            "Documents read, tagged and written together. Larger chunks sort more sentences by "
            "length, so forward passes pad less (measured on 2 cores: 1,024 documents tag about "
            "15% faster than 256); memory grows with the chunk, not with the corpus."
        ),
    )
    overwrite: bool = field(
        default=False, metadata=option("Delete an earlier output in --output and start over.")
    )
    engine: str = field(
        default="local",
        metadata=option(
            "local (default): this process (or each process of `accelerate launch`); ray: a "
            "Ray Data pipeline (needs swiss-ner[ray]).",
            choices=ENGINES,
        ),
    )
    ray_address: str | None = field(
        default=None,
        metadata=option("Ray cluster to connect to, e.g. auto or ray://HOST:10001 (default: "
                        "start Ray locally)."),
    )
    ray_actors: int = field(
        default=1,
        metadata=option(
            "Ray actors, each with its own model (default: 1); leave CPUs free for reading."
        ),
    )
    ray_cpus_per_actor: float = field(
        default=1.0, metadata=option("CPUs reserved per actor (default: 1).")
    )
    batch_size: int | None = field(default=None, metadata=option("Windows per forward pass."))
    device: str | None = field(
        default=None, metadata=option("Torch device (default: the process's GPU, else cpu).")
    )
    quantize: bool = field(default=False, metadata=option("int8 Linear layers (CPU only)."))
    dtype: str = field(default="float32", metadata=dtype_option())
    compile: bool = field(default=False, metadata=compile_option())
    num_threads: int | None = field(
        default=None,
        metadata=option("CPU threads per process (default: the cores split between processes)."),
    )
    progress: bool = field(default=True, metadata=option("Show a progress bar on stderr."))

    def validate(self) -> None:
        if not self.inputs:
            raise ConfigError("give at least one INPUT file")
        if not self.output:
            raise ConfigError("--output is required")
        if not self.model:
            raise ConfigError(f"--model is required (or set {MODEL_ENV})")
        one_of("format", self.format, CORPUS_FORMATS)
        one_of("engine", self.engine, ENGINES)
        check_tagger_options(self.dtype, self.quantize, self.compile)
        for name in ("shard_size", "chunk_size", "ray_actors", "batch_size", "num_threads"):
            at_least(name, getattr(self, name), 1)
        at_least("ray_cpus_per_actor", self.ray_cpus_per_actor, 0, strict=True)
        if self.ray_address and self.engine != "ray":
            raise ConfigError("--ray-address needs --engine ray")
        if self.engine == "ray" and self.format != "parquet":
            raise ConfigError("--engine ray writes Parquet only; drop --format jsonl")
