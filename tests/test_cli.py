"""The ``swiss-ner`` command line: ``tag`` on arguments, stdin and files, tables and JSON lines."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swiss_ner.cli import build_parser, main
from swiss_ner.inference import split_words

TEXTS = {
    "de": "Die Credit Suisse und die UBS haben ihren Sitz in Zürich.",
    "fr": "Le Conseil fédéral a rencontré Alain Berset à Berne.",
    "it": "Roger Federer ha vinto a Basilea contro Rafael Nadal.",
    "en": "Nestlé is headquartered in Vevey, Switzerland.",
}


@pytest.fixture(scope="session")
def model_dir(trained_model_dir) -> Path:
    return trained_model_dir


def run_json(argv, capsys) -> list[dict]:
    assert main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


def assert_offsets_slice(record: dict) -> None:
    text = record["text"]
    words = {(start, end) for _, start, end in split_words(text)}
    for entity in record["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert entity["type"] in {"PER", "ORG", "LOC"}
        assert 0.0 < entity["score"] <= 1.0
        assert any(start == entity["start"] for start, _ in words)
        assert any(end == entity["end"] for _, end in words)


def test_tag_table_prints_spans_that_slice_each_text(model_dir, capsys):
    assert main(["tag", *TEXTS.values(), "--model", str(model_dir), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split("\n\n")
    assert len(blocks) == len(TEXTS)
    rows = 0
    for text, block in zip(TEXTS.values(), blocks, strict=True):
        lines = block.splitlines()
        assert lines[0] == f"text: {text}"
        if lines[1].strip() == "(no entities)":
            continue
        assert lines[1].split() == ["ENTITY", "TYPE", "SCORE", "START", "END"]
        for line in lines[2:]:
            *entity_words, kind, score, start, end = line.split()
            assert text[int(start) : int(end)].split() == entity_words
            assert kind in {"PER", "ORG", "LOC"} and 0 < float(score) <= 1
            rows += 1
    assert rows, "the tiny trained model should tag something in four languages"


def test_tag_json_lines_parse_and_offsets_slice(model_dir, capsys):
    records = run_json(["tag", *TEXTS.values(), "--model", str(model_dir)], capsys)
    assert [record["text"] for record in records] == list(TEXTS.values())
    for record in records:
        assert set(record) == {"text", "entities"}
        assert_offsets_slice(record)
        for entity in record["entities"]:
            assert set(entity) == {"text", "type", "score", "start", "end"}
            assert not entity["text"].endswith((".", ","))


def test_tag_reads_stdin_without_text_or_with_dash(model_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{TEXTS['de']}\n\n{TEXTS['fr']}\n"))
    records = run_json(["tag", "--model", str(model_dir)], capsys)
    assert [r["text"] for r in records] == [TEXTS["de"], TEXTS["fr"]]

    monkeypatch.setattr(sys, "stdin", io.StringIO(TEXTS["it"] + "\n"))
    records = run_json(["tag", TEXTS["en"], "-", "--model", str(model_dir)], capsys)
    assert [r["text"] for r in records] == [TEXTS["en"], TEXTS["it"]]


def test_tag_reads_repeated_files(model_dir, capsys, tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(f"{TEXTS['de']}\n{TEXTS['fr']}\n", encoding="utf-8")
    second.write_text(f"\n{TEXTS['it']}\r\n", encoding="utf-8")
    argv = ["tag", "--file", str(first), "--file", str(second), "--model", str(model_dir)]
    records = run_json(argv, capsys)
    assert [r["text"] for r in records] == [TEXTS["de"], TEXTS["fr"], TEXTS["it"]]
    for record in records:
        assert_offsets_slice(record)


def test_tag_long_text_keeps_all_words(model_dir, capsys):
    candidates = [
        *TEXTS.values(),
        "Die Credit Suisse hat ihren Sitz in Zürich und die UBS in Basel .",
    ]
    records = run_json(["tag", *candidates, "--model", str(model_dir)], capsys)
    tagged = [record["text"] for record in records if record["entities"]]
    assert tagged, "the trained model should find an entity in one of the sentences"
    text = " ".join([tagged[0]] * 40)
    [record] = run_json(["tag", text, "--model", str(model_dir), "--batch-size", "2"], capsys)
    assert_offsets_slice(record)
    assert record["entities"], "entities from every window are reported"
    assert max(e["end"] for e in record["entities"]) > len(text) * 0.9


def test_model_load_errors_exit_1_with_a_clear_message(tmp_path, capsys):
    assert main(["tag", "Bern", "--model", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert "swiss-ner: error: model folder" in err and "missing" in err


def test_bad_device_and_unreadable_file_exit_1(model_dir, tmp_path, capsys):
    assert main(["tag", "Bern", "--model", str(model_dir), "--device", "nonsense"]) == 1
    assert "swiss-ner: error" in capsys.readouterr().err
    assert main(["tag", "--file", str(tmp_path / "none.txt"), "--model", str(model_dir)]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="missing"):
        main(["--debug", "tag", "Bern", "--model", str(tmp_path / "missing")])


SUB_COMMANDS = ("train", "report", "analyse", "push", "make-small-model", "tag", "demo")


def test_top_level_help_lists_every_sub_command_without_loading_torch():
    code = (
        "import sys; from swiss_ner.cli import build_parser; "
        "print(build_parser().format_help()); print('torch' in sys.modules)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True)
    for command in SUB_COMMANDS:
        assert f"    {command}" in completed.stdout, command
    assert completed.stdout.strip().endswith("False"), "swiss-ner --help must not import torch"


@pytest.mark.parametrize("command", SUB_COMMANDS)
def test_every_sub_command_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ") and len(out.splitlines()) > 5


def test_help_shows_examples_and_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["tag", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--json" in out and "--file" in out
    assert "tag" in build_parser().format_help()


def test_installed_console_script(model_dir):
    script = shutil.which("swiss-ner", path=str(Path(sys.executable).parent))
    assert script, "pip install -e . puts swiss-ner next to the interpreter"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [script, "tag", TEXTS["de"], "-", "--model", str(model_dir), "--json"],
        input=TEXTS["fr"] + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [record["text"] for record in records] == [TEXTS["de"], TEXTS["fr"]]
    for record in records:
        assert_offsets_slice(record)
