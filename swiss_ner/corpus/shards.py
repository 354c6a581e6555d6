"""The output folder of a tagged corpus: shard files, the manifest, and what they hold.

Shard ``k`` holds the corpus rows ``k * shard_size`` up to ``(k + 1) * shard_size``, so a
rerun knows from the finished files alone what is left to do and writes the same files again.
Each shard is written under a hidden temporary name and renamed into place when complete, so a
reader (or a resumed run) never sees half a shard. ``_manifest.json`` records the inputs, the
model and the options that change results; readers of Parquet datasets skip names that start
with ``_`` or ``.``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

MANIFEST = "_manifest.json"
MANIFEST_VERSION = 1
SUFFIXES = {"parquet": "parquet", "jsonl": "jsonl"}


def schema(id_is_string: bool):
    """The Arrow schema of every shard: id, text, entities (offsets into text) and error."""
    import pyarrow as pa

    entity = pa.struct(
        [
            ("text", pa.string()),
            ("type", pa.string()),
            ("score", pa.float64()),
            ("start", pa.int64()),
            ("end", pa.int64()),
        ]
    )
    return pa.schema(
        [
            ("id", pa.string() if id_is_string else pa.int64()),
            ("text", pa.string()),
            ("entities", pa.list_(entity)),
            ("error", pa.string()),
        ]
    )


def shard_path(folder: str | Path, index: int, fmt: str) -> Path:
    return Path(folder) / f"part-{index:05d}.{SUFFIXES[fmt]}"


class ShardWriter:
    """Writes one shard chunk by chunk (one Parquet row group each) to a hidden temporary file,
    and renames it into place on :meth:`close`, so a killed run leaves no partial shard."""

    def __init__(self, folder: str | Path, index: int, fmt: str, id_is_string: bool) -> None:
        self.path = shard_path(folder, index, fmt)
        self.temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.fmt = fmt
        self.schema = schema(id_is_string)
        self._writer = None
        self._handle = None
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self.temporary, self.schema)
        else:
            self._handle = self.temporary.open("w", encoding="utf-8")

    def write(self, records: list[dict]) -> None:
        if self._writer is not None:
            import pyarrow as pa

            self._writer.write_table(pa.Table.from_pylist(records, schema=self.schema))
        else:
            for record in records:
                self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> Path:
        """Finish the file and move it to its final name."""
        if self._writer is not None:
            self._writer.close()
        else:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        os.replace(self.temporary, self.path)
        return self.path

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
        elif self._handle is not None:
            self._handle.close()
        self.temporary.unlink(missing_ok=True)


def model_fingerprint(model: str) -> dict:
    """The model's name and, for a local folder, a hash of its config and weights, so that a
    folder retrained in place is told apart from the one that tagged the corpus."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return {"name": model}
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name == "config.json" or path.suffix in (".safetensors", ".bin"):
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    return {"name": str(folder.resolve()), "sha256": digest.hexdigest()}


def prepare_folder(folder: str | Path, manifest: dict, overwrite: bool) -> None:
    """Create the output folder with its manifest, or check that it continues the same job.

    Raises ValueError in one line when the folder was written with other inputs, another model
    or other options, or holds files this command did not write.
    """
    folder = Path(folder)
    existing = read_manifest(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--output {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and existing is None:
        raise ValueError(
            f"--output {folder} is not empty and has no {MANIFEST}; choose an empty or new folder"
        )
    if existing is not None and overwrite:
        shutil.rmtree(folder)
        existing = None
    if existing is not None:
        changed = _differences(existing, manifest)
        if changed:
            raise ValueError(
                f"--output {folder} was written with other {', '.join(changed)}; pass --overwrite "
                "to start over or choose another folder"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(folder, manifest)


def _differences(existing: dict, manifest: dict) -> list[str]:
    """What differs between a folder's manifest and this run's: ``options (--chunk-size 8, was
    256)`` names each option; inputs, model and engine are named as a whole."""
    changed = []
    for key in manifest:
        if key == "complete" or existing.get(key) == manifest[key]:
            continue
        if key == "options" and isinstance(existing.get(key), dict):
            options = [
                f"--{name.replace('_', '-')} {value}, was {existing[key].get(name)}"
                for name, value in manifest[key].items() if existing[key].get(name) != value
            ]
            changed.append(f"options ({'; '.join(options)})")
        else:
            changed.append(key)
    return changed


def read_manifest(folder: str | Path) -> dict | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}); pass --overwrite") from None


def write_manifest(folder: str | Path, manifest: dict) -> None:
    """Write the manifest atomically (temporary file, then rename)."""
    path = Path(folder) / MANIFEST
    temporary = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def remove_stale_files(folder: str | Path, patterns: Iterable[str]) -> None:
    """Delete leftovers of an interrupted run that a finished shard would not replace."""
    for pattern in patterns:
        for path in Path(folder).glob(pattern):
            path.unlink(missing_ok=True)


def summarize(folder: str | Path, fmt: str, id_is_string: bool) -> dict:
    """Documents, entities per type and error rows of every shard in the folder."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    # The schema is given: a JSONL shard without entities or errors would read as nulls.
    dataset = ds.dataset(str(folder), format="json" if fmt == "jsonl" else "parquet",
                         schema=schema(id_is_string))
    documents, errors, types = 0, 0, Counter()
    # One batch at a time: readahead would hold most shards of a large folder in memory at once.
    for batch in dataset.to_batches(columns=["entities", "error"], batch_readahead=0,
                                    fragment_readahead=0, batch_size=8192):
        documents += batch.num_rows
        errors += batch.num_rows - batch.column("error").null_count
        entities = pc.list_flatten(batch.column("entities"))
        if len(entities):
            counts = pc.value_counts(pc.struct_field(entities, "type")).to_pylist()
            types.update({count["values"]: count["counts"] for count in counts})
    return {"documents": documents, "errors": errors, "entities": dict(sorted(types.items()))}
