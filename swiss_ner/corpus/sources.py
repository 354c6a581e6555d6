"""The input files of a corpus: checked and counted first, then streamed with ``datasets``.

``datasets`` streams JSON lines, Parquet, CSV and text without loading a file into memory, but a
broken line surfaces deep inside its readers without file or line. So each file is scanned once
before anything is tagged: the scan names the file and line of the first malformed row, checks
that the columns exist, and counts the rows, which fixes the shard boundaries and the progress
bar's total before the first document is read.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# File suffix -> the ``datasets`` builder that reads it.
BUILDERS = {
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "text",
    ".text": "text",
}
TEXT_FILE_COLUMN = "text"
# Bytes the JSON and text builders read per block (theirs: 10 MiB). A block is parsed whole, so
# it sets the reader's memory: measured over 100,000 JSONL documents, 10 MiB blocks raised peak
# memory by 109 MiB and 1 MiB blocks by 39 MiB, at the same speed.
READ_BLOCK_BYTES = 1 << 20
NEWLINES = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class InputFile:
    """One input file: its path, the builder that reads it, and how many rows it holds."""

    path: str
    builder: str
    rows: int

    def to_dict(self) -> dict:
        return {"path": self.path, "format": self.builder, "rows": self.rows,
                "bytes": os.path.getsize(self.path)}


def scan_inputs(
    paths: Sequence[str], text_column: str = "text", id_column: str | None = None
) -> list[InputFile]:
    """Check and count every input file; raise ValueError naming the file (and line) if one is
    malformed, lacks a column, or has a suffix that names no format."""
    files = []
    for path in paths:
        if not Path(path).is_file():
            raise OSError(f"input file {path} does not exist")
        builder = BUILDERS.get(Path(path).suffix.lower())
        if builder is None:
            raise ValueError(
                f"{path}: unknown input format; name it *.jsonl, *.parquet, *.csv or *.txt"
            )
        scan = {"json": _scan_json, "parquet": _scan_parquet, "csv": _scan_csv}.get(builder)
        if scan is None:
            if id_column:
                raise ValueError(f"{path}: a text file has no columns, so no --id-column")
            rows = _scan_text(path)
        else:
            rows = scan(path, [text_column, *([id_column] if id_column else [])])
        files.append(InputFile(str(Path(path).resolve()), builder, rows))
    return files


def _missing(path: str, columns: Sequence[str], found: Sequence[str]) -> None:
    for column in columns:
        if column not in found:
            option = "--text-column" if column == columns[0] else "--id-column"
            raise ValueError(
                f"{path}: no column {column!r} ({option}); columns: {', '.join(found) or 'none'}"
            )


def _scan_json(path: str, columns: Sequence[str]) -> int:
    rows, seen = 0, set()
    for number, line in _utf8_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected one JSON object per line")
        seen.update(record)
        rows += 1
    _missing(path, columns, sorted(seen))
    return rows


def _scan_csv(path: str, columns: Sequence[str]) -> int:
    lines = _utf8_lines(path)
    reader = csv.reader(line for _, line in lines)
    try:
        header = next(reader, [])
        rows = 0
        for row in reader:
            if row and len(row) != len(header):
                raise ValueError(
                    f"{path}:{reader.line_num}: {len(row)} fields, the header has {len(header)}"
                )
            rows += bool(row)
    except csv.Error as error:
        raise ValueError(f"{path}:{reader.line_num}: not valid CSV ({error})") from None
    _missing(path, columns, header)
    return rows


def _scan_parquet(path: str, columns: Sequence[str]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{path}: not a Parquet file ({error})") from None
    _missing(path, columns, parquet.schema_arrow.names)
    return parquet.metadata.num_rows


def _scan_text(path: str) -> int:
    """Rows as the ``datasets`` text builder cuts them: lines with universal newlines."""
    rows = 0
    for _, line in _utf8_lines(path):
        rows += len(NEWLINES.findall(line)) + (not line.endswith(("\r", "\n")))
    return rows


def _utf8_lines(path: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` without a leading BOM; a byte that is not UTF-8 raises ValueError
    with its line and column."""
    with open(path, "rb") as handle:
        for number, data in enumerate(handle, start=1):
            if number == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
            try:
                yield number, data.decode("utf-8")
            except UnicodeDecodeError as error:
                column = len(data[: error.start].decode("utf-8", errors="replace")) + 1
                raise ValueError(
                    f"{path}:{number}: not valid UTF-8 (byte 0x{data[error.start]:02x} at column "
                    f"{column}); save the file as UTF-8"
                ) from None


def read_rows(
    files: Sequence[InputFile],
    text_column: str = "text",
    id_column: str | None = None,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[tuple[object, object]]:
    """``(id, text)`` of the corpus rows ``start:stop``, streamed in input order.

    The id is the row's ``id_column`` value as a string, or its number in the whole corpus.
    Files outside the range are not opened; a file that streams another number of rows than its
    scan counted raises RuntimeError, since shard boundaries rest on those counts.
    """
    offset = 0
    for file in files:
        first, end = offset, offset + file.rows
        offset = end
        if stop is not None and first >= stop:
            return
        if end <= start:
            continue
        skip = max(start - first, 0)
        column = TEXT_FILE_COLUMN if file.builder == "text" else text_column
        count = skip
        for row in _stream(file, column, id_column, skip):
            number = first + count
            if stop is not None and number >= stop:
                return
            identifier = number if id_column is None else _as_id(row.get(id_column))
            yield identifier, row.get(column)
            count += 1
        if count != file.rows:
            raise RuntimeError(
                f"{file.path}: datasets read {count} rows, the scan counted {file.rows}"
            )


def prepare_readers(
    files: Sequence[InputFile], text_column: str = "text", id_column: str | None = None
) -> None:
    """Build a ``datasets`` stream of each input format once, reading nothing, so that the
    first one's set-up (module discovery and imports, about 1.1 s on 2 cores; the next stream of
    that format takes 0.03 s) is start-up, like loading the model, and not a pause at the first
    document of the progress bar and the documents/s of the summary line."""
    prepared: set[str] = set()
    for file in files:
        if file.builder not in prepared:
            prepared.add(file.builder)
            column = TEXT_FILE_COLUMN if file.builder == "text" else text_column
            _stream(file, column, id_column, 0)


def _as_id(value: object) -> str | None:
    return None if value is None else str(value)


def _stream(file: InputFile, text_column: str, id_column: str | None, skip: int):
    from datasets import load_dataset

    options: dict = {}
    if file.builder in ("json", "text"):
        options["chunksize"] = READ_BLOCK_BYTES
    if file.builder in ("text", "csv"):
        options["encoding"] = "utf-8-sig"
    if file.builder == "csv":
        # Keep texts and ids as written ("0042" stays a string, not the number 42).
        options["converters"] = {column: str for column in (text_column, id_column) if column}
    dataset = load_dataset(
        file.builder, data_files=[file.path], split="train", streaming=True, **options
    )
    return dataset.skip(skip) if skip else dataset
