"""Corpus inputs: every format scanned, counted and streamed; malformed files named by line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from swiss_ner.corpus import sources
from swiss_ner.corpus.sources import prepare_readers, read_rows, scan_inputs


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_each_format_streams_its_rows_in_order(tmp_path):
    jsonl = write_jsonl(tmp_path / "a.jsonl", [{"text": "Bern", "doc": 7}, {"text": None}])
    csv = tmp_path / "b.csv"
    csv.write_text('doc,text\n0042,"Genf, am See"\n9,Basel\n', encoding="utf-8")
    text = tmp_path / "c.txt"
    text.write_bytes("\ufeffZürich\r\n\nLugano".encode())
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["Chur", "Sion"], "doc": [1, 2]}), parquet)

    files = scan_inputs([str(jsonl), str(csv), str(text), str(parquet)])
    assert [file.rows for file in files] == [2, 2, 3, 2]
    assert list(read_rows(files)) == [
        (0, "Bern"), (1, None), (2, "Genf, am See"), (3, "Basel"),
        (4, "Zürich"), (5, ""), (6, "Lugano"), (7, "Chur"), (8, "Sion"),
    ]
    assert list(read_rows(files, start=3, stop=5)) == [(3, "Basel"), (4, "Zürich")]

    with_ids = scan_inputs([str(jsonl), str(csv)], id_column="doc")
    assert [identifier for identifier, _ in read_rows(with_ids, id_column="doc")] == [
        "7", None, "0042", "9"
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", b'{"text": "a"}\n{"text": "b"\n', r"bad.jsonl:2: not valid JSON"),
        ("list.jsonl", b'{"text": "a"}\n["b"]\n', r"list.jsonl:2: expected one JSON object"),
        ("bad.csv", b"doc,text\n1,a\n2\n", r"bad.csv:3: 1 fields, the header has 2"),
        ("latin.txt", b"ok\nZ\xfcrich\n", r"latin.txt:2: not valid UTF-8 \(byte 0xfc at column 2"),
        ("bad.parquet", b"not parquet", r"bad.parquet: not a Parquet file"),
        ("notes.docx", b"x", r"notes.docx: unknown input format"),
    ],
)
def test_malformed_files_are_named_with_their_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        scan_inputs([str(path)])


def test_missing_columns_and_files_are_refused(tmp_path):
    jsonl = write_jsonl(tmp_path / "a.jsonl", [{"body": "Bern"}])
    with pytest.raises(ValueError, match=r"no column 'text' \(--text-column\); columns: body"):
        scan_inputs([str(jsonl)])
    with pytest.raises(ValueError, match=r"no column 'doc' \(--id-column\)"):
        scan_inputs([str(jsonl)], text_column="body", id_column="doc")
    with pytest.raises(OSError, match="does not exist"):
        scan_inputs([str(tmp_path / "none.jsonl")])


def test_readers_are_prepared_once_per_format_reading_nothing(tmp_path, monkeypatch):
    paths = [write_jsonl(tmp_path / f"{name}.jsonl", [{"body": name}]) for name in "ab"]
    text = tmp_path / "c.txt"
    text.write_text("Zürich\n", encoding="utf-8")
    files = scan_inputs([str(path) for path in paths] + [str(text)], text_column="body")
    built = []
    stream = sources._stream
    monkeypatch.setattr(sources, "_stream", lambda file, column, *rest: built.append(
        (Path(file.path).name, column)) or stream(file, column, *rest))
    prepare_readers(files, text_column="body")
    assert sorted(built) == [("a.jsonl", "body"), ("c.txt", "text")]
    assert list(read_rows(files, text_column="body")) == [(0, "a"), (1, "b"), (2, "Zürich")]
