"""``--engine ray``: a local Ray with 2 CPUs writes the rows the local engine writes."""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest

from swiss_ner.cli import main
from tests.test_corpus_local import corpus_rows, write_jsonl

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install '.[ray]'")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def rows(folder) -> list[dict]:
    return sorted(ds.dataset(str(folder), format="parquet").to_table().to_pylist(),
                  key=lambda row: row["id"])


def spans(rows_: list[dict]) -> list[tuple]:
    """Rows without scores, which differ in the last float32 bits when batches differ."""
    return [
        (row["id"], row["text"], row["error"],
         [(e["text"], e["type"], e["start"], e["end"]) for e in row["entities"]])
        for row in rows_
    ]


def test_ray_engine_rows_equal_the_local_engine(trained_model_dir, tmp_path, local_ray, capsys):
    corpus = corpus_rows(20)
    corpus[5]["text"] = None
    source = write_jsonl(tmp_path / "news.jsonl", corpus)
    args = ["tag-corpus", str(source), "--model", str(trained_model_dir), "--no-progress",
            "--chunk-size", "4", "--shard-size", "8"]
    assert main([*args, "-o", str(tmp_path / "local")]) == 0
    assert main([*args, "-o", str(tmp_path / "ray"), "--engine", "ray"]) == 0
    assert "20 documents," in capsys.readouterr().out
    local, distributed = rows(tmp_path / "local"), rows(tmp_path / "ray")
    assert len(distributed) == 20
    assert spans(distributed) == spans(local)
    for ours, theirs in zip(distributed, local, strict=True):
        for a, b in zip(ours["entities"], theirs["entities"], strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-5)
    assert any(row["entities"] for row in local)
    # A finished folder is not tagged again.
    assert main([*args, "-o", str(tmp_path / "ray"), "--engine", "ray"]) == 0
    assert rows(tmp_path / "ray") == distributed
