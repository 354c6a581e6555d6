"""``swiss-ner tag-corpus`` with the local engine: formats, error rows, malformed inputs, refusals,
kill -9 and resume, two processes, and a DuckDB query over the output."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from swiss_ner.cli import main
from swiss_ner.commands.tag_corpus import summary_line
from swiss_ner.corpus import local
from swiss_ner.inference import NerTagger

SENTENCES = [
    "Die Credit Suisse und die UBS haben ihren Sitz in Zürich.",
    "Le Conseil fédéral a rencontré Alain Berset à Berne.",
    "Roger Federer ha vinto a Basilea contro Rafael Nadal.",
    "Nestlé is headquartered in Vevey, Switzerland.",
]
LANGS = ["de", "fr", "it", "en"]


def corpus_rows(count: int) -> list[dict]:
    """Documents of one to three sentences, each with an id and its language."""
    rows = []
    for number in range(count):
        lang = number % 4
        text = " ".join(SENTENCES[(lang + k) % 4] for k in range(1 + number % 3))
        rows.append({"doc": f"d{number:04d}", "lang": LANGS[lang], "text": text})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def read_rows(folder: Path, fmt: str = "parquet") -> list[dict]:
    table = ds.dataset(str(folder), format="json" if fmt == "jsonl" else fmt).to_table()
    return table.to_pylist()


def tag_corpus(*args: str) -> int:
    return main(["tag-corpus", *args, "--no-progress"])


@pytest.fixture(scope="module")
def model(trained_model_dir) -> str:
    return str(trained_model_dir)


@pytest.fixture(scope="module")
def tagger(model) -> NerTagger:
    return NerTagger.from_pretrained(model, device="cpu")


def test_summary_line_says_one_in_the_singular():
    one = summary_line({"documents": 1, "entities": {"ORG": 1}, "errors": 1}, 0.5, 1)
    assert one.startswith("1 document, 1 entity (ORG 1), 1 error row; tagged 1 in this run")
    none = summary_line({"documents": 2, "entities": {}, "errors": 0}, 1.0, 2)
    assert none.startswith("2 documents, 0 entities (none), 0 error rows;")


def test_rows_match_the_tagger_with_error_rows_and_offsets(model, tagger, tmp_path, capsys):
    rows = corpus_rows(12)
    rows[3]["text"] = None
    rows[7]["text"] = 42
    source = write_jsonl(tmp_path / "news.jsonl", rows)
    assert tag_corpus(str(source), "-o", str(tmp_path / "out"), "--model", model,
                      "--shard-size", "5", "--chunk-size", "2") == 0
    summary = capsys.readouterr().out.strip()
    assert summary.startswith("12 documents,") and "2 error rows" in summary
    assert "tagged 12 in this run" in summary
    assert tag_corpus(str(source), "-o", str(tmp_path / "out"), "--model", model,
                      "--shard-size", "5", "--chunk-size", "2") == 0
    again = capsys.readouterr().out.strip()
    assert again.startswith("12 documents,") and "complete already, nothing tagged" in again
    out = read_rows(tmp_path / "out")
    assert [row["id"] for row in out] == list(range(12))
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "_manifest.json", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"
    ]
    assert out[3]["error"] == "text is null, expected a string" and out[3]["entities"] == []
    assert out[7]["error"] == "text is int, expected a string"
    for row, source_row in zip(out, rows, strict=True):
        if row["error"] is None:
            assert row["text"] == source_row["text"]
            expected = tagger.tag([row["text"]])[0]
            got = [(e["text"], e["type"], e["start"], e["end"]) for e in row["entities"]]
            assert got == [(e.text, e.type, e.start, e.end) for e in expected]
            assert all(row["text"][e["start"] : e["end"]] == e["text"] for e in row["entities"])
    assert any(row["entities"] for row in out)


@pytest.mark.parametrize("suffix", ["csv", "txt", "parquet"])
def test_other_formats_give_the_same_rows(model, tmp_path, suffix):
    import pandas as pd

    rows = corpus_rows(6)
    frame = pd.DataFrame(rows)
    source = tmp_path / f"docs.{suffix}"
    if suffix == "csv":
        frame.to_csv(source, index=False)
    elif suffix == "parquet":
        frame.to_parquet(source)
    else:
        source.write_text("".join(row["text"] + "\n" for row in rows), encoding="utf-8")
    reference = write_jsonl(tmp_path / "docs.jsonl", rows)
    for path, out in ((source, "out"), (reference, "ref")):
        assert tag_corpus(str(path), "-o", str(tmp_path / out), "--model", model) == 0
    assert read_rows(tmp_path / "out") == read_rows(tmp_path / "ref")


def test_jsonl_output_and_id_column(model, tmp_path):
    source = write_jsonl(tmp_path / "news.jsonl", corpus_rows(5))
    assert tag_corpus(str(source), "-o", str(tmp_path / "out"), "--model", model,
                      "--format", "jsonl", "--id-column", "doc") == 0
    lines = [json.loads(line) for path in sorted((tmp_path / "out").glob("part-*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [f"d{n:04d}" for n in range(5)]
    assert set(lines[0]) == {"id", "text", "entities", "error"}
    assert [row["id"] for row in read_rows(tmp_path / "out", "jsonl")] == [
        f"d{n:04d}" for n in range(5)
    ]


def test_malformed_input_stops_before_any_output(model, tmp_path, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", corpus_rows(3))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Bern"}\n{"text": \n', encoding="utf-8")
    out = tmp_path / "out"
    assert tag_corpus(str(good), str(bad), "-o", str(out), "--model", model) == 1
    assert capsys.readouterr().err.strip() == (
        f"swiss-ner: error: {bad}:2: not valid JSON (Expecting value)"
    )
    assert not out.exists()


def test_folder_of_other_options_or_files_is_refused(model, tmp_path, capsys):
    source = write_jsonl(tmp_path / "news.jsonl", corpus_rows(4))
    out = tmp_path / "out"
    assert tag_corpus(str(source), "-o", str(out), "--model", model) == 0
    capsys.readouterr()
    assert tag_corpus(str(source), "-o", str(out), "--model", model, "--shard-size", "2") == 1
    error = capsys.readouterr().err
    assert "was written with other options (--shard-size 2, was 10000); pass --overwrite" in error
    assert len(error.strip().splitlines()) == 1
    assert tag_corpus(str(source), "-o", str(out), "--model", model, "--dtype", "bfloat16") == 1
    assert "(--dtype bfloat16, was float32)" in capsys.readouterr().err
    assert tag_corpus(str(source), "-o", str(out), "--model", model, "--compile") == 1
    assert "(--compile True, was False)" in capsys.readouterr().err
    assert tag_corpus(str(source), "-o", str(out), "--model", model, "--shard-size", "2",
                      "--overwrite") == 0
    assert len(list(out.glob("part-*.parquet"))) == 2
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine", encoding="utf-8")
    assert tag_corpus(str(source), "-o", str(stranger), "--model", model, "--overwrite") == 1
    assert "is not empty and has no _manifest.json" in capsys.readouterr().err


def test_kill_9_then_rerun_gives_the_uninterrupted_output(model, tmp_path):
    source = write_jsonl(tmp_path / "news.jsonl", corpus_rows(240))
    args = [str(source), "--model", model, "--shard-size", "8", "--chunk-size", "4"]
    assert tag_corpus(*args, "-o", str(tmp_path / "whole")) == 0

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "swiss_ner.cli", "tag-corpus", *args, "-o", str(out),
               "--no-progress", "--num-threads", "1"]
    child = subprocess.Popen(command, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 240
    while not list(out.glob("part-*.parquet")) and child.poll() is None:
        assert time.monotonic() < deadline, "the child wrote no shard in 240 s"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = len(list(out.glob("part-*.parquet")))
    assert 1 <= finished < 30, f"{finished} of 30 shards were done when the child was killed"

    assert tag_corpus(*args, "-o", str(out)) == 0
    assert not [path.name for path in out.iterdir() if path.name.startswith(".")]
    resumed, whole = read_rows(out), read_rows(tmp_path / "whole")
    assert len(resumed) == 240
    assert resumed == whole


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_write_what_one_writes(model, tmp_path):
    source = write_jsonl(tmp_path / "news.jsonl", corpus_rows(30))
    args = [str(source), "--model", model, "--shard-size", "4", "--chunk-size", "3"]
    assert tag_corpus(*args, "-o", str(tmp_path / "one")) == 0
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [str(accelerate), "launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "swiss_ner.cli", "tag-corpus",
               *args, "-o", str(tmp_path / "two"), "--no-progress"]
    result = subprocess.run(command, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("30 documents,") == 1  # only the main process reports
    assert read_rows(tmp_path / "two") == read_rows(tmp_path / "one")


def test_duckdb_query_of_the_readme_runs_on_the_output(model, tmp_path):
    import duckdb

    source = write_jsonl(tmp_path / "news.jsonl", corpus_rows(16))
    out = tmp_path / "tagged"
    assert tag_corpus(str(source), "-o", str(out), "--model", model, "--id-column", "doc") == 0
    query = f"""
        SELECT t.e.text AS organisation, count(*) AS mentions
        FROM (SELECT id, unnest(entities) AS e FROM read_parquet('{out}/*.parquet')) AS t
        JOIN read_json_auto('{source}') AS d ON d.doc = t.id
        WHERE d.lang = 'fr' AND t.e.type = 'ORG'
        GROUP BY organisation ORDER BY mentions DESC, organisation LIMIT 20
    """
    got = duckdb.sql(query).fetchall()
    expected: dict[str, int] = {}
    for row in read_rows(out):
        if row["id"] in {r["doc"] for r in corpus_rows(16) if r["lang"] == "fr"}:
            for entity in row["entities"]:
                if entity["type"] == "ORG":
                    expected[entity["text"]] = expected.get(entity["text"], 0) + 1
    assert expected, "the tiny trained model should find an ORG in the French documents"
    assert got == sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:20]
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/*.parquet')").fetchall() == [
        (16,)
    ]


def test_consecutive_shards_share_one_input_stream():
    from swiss_ner.corpus.local import contiguous_runs

    assert list(contiguous_runs([3, 4, 5, 9, 11, 12])) == [[3, 4, 5], [9], [11, 12]]
    assert list(contiguous_runs([])) == []


def _resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


needs_glibc = pytest.mark.skipif(local._glibc() is None or not Path("/proc/self/status").exists(),
                                 reason="needs glibc and /proc")


@needs_glibc
def test_freed_memory_goes_back_to_the_system():
    """Blocks freed below a live one stay resident under glibc until the engine trims them."""
    import ctypes

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 * 1024) for _ in range(3000)]  # under the mmap threshold: heap
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)
    pin = libc.malloc(64 * 1024)  # keeps the heap's top in use, so free() cannot shrink it
    for block in blocks:
        libc.free(block)
    before = _resident_mib()
    local.return_freed_memory()
    after = _resident_mib()
    libc.free(pin)
    assert before - after > 100, f"{before:.0f} MiB before the trim, {after:.0f} MiB after"


@needs_glibc
def test_large_blocks_are_returned_as_soon_as_they_are_freed():
    """After a large free glibc serves blocks up to 32 MiB from the heap, where a live block
    above them keeps them resident; with the engine's threshold each gets its own mapping."""
    import ctypes

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(libc.malloc(24 << 20))  # glibc would now raise its threshold to 24 MiB
    local.map_large_blocks()
    before = _resident_mib()
    blocks = []
    for _ in range(20):
        blocks.append(libc.malloc(8 << 20))
        ctypes.memset(blocks[-1], 1, 8 << 20)
    pin = libc.malloc(64 * 1024)
    for block in blocks:
        libc.free(block)
    after = _resident_mib()
    libc.free(pin)
    assert after - before < 40, f"{before:.0f} MiB before 160 MiB of blocks, {after:.0f} after"
