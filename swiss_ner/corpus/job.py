"""One corpus-tagging job: the scanned inputs, the output folder, and the options that change
results, with the manifest that lets a rerun check that it continues the same job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from swiss_ner.corpus.shards import MANIFEST_VERSION, model_fingerprint, shard_path
from swiss_ner.corpus.sources import InputFile


@dataclass(frozen=True)
class Job:
    """What to tag and how; shard ``k`` holds rows ``k * shard_size`` to ``(k + 1) *
    shard_size``, so its boundaries depend on the inputs and ``shard_size`` only."""

    files: Sequence[InputFile]
    output: Path
    model: str
    fmt: str = "parquet"
    text_column: str = "text"
    id_column: str | None = None
    shard_size: int = 10_000
    chunk_size: int = 1024
    tagger_options: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(file.rows for file in self.files)

    @property
    def num_shards(self) -> int:
        return -(-self.total // self.shard_size)

    def rows_of(self, shard: int) -> tuple[int, int]:
        """The corpus rows ``start:stop`` of one shard."""
        start = shard * self.shard_size
        return start, min(start + self.shard_size, self.total)

    def finished(self, shard: int) -> bool:
        return shard_path(self.output, shard, self.fmt).is_file()

    def manifest(self, engine: str) -> dict:
        """Everything a rerun must share to continue this job (``complete`` aside)."""
        return {
            "version": MANIFEST_VERSION,
            "engine": engine,
            "inputs": [file.to_dict() for file in self.files],
            "model": model_fingerprint(self.model),
            "options": {
                "format": self.fmt,
                "text_column": self.text_column,
                "id_column": self.id_column,
                "shard_size": self.shard_size,
                "chunk_size": self.chunk_size,
                **self.tagger_options,
            },
            "complete": False,
        }
