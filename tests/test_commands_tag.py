"""``swiss-ner tag`` streams: a chunk's entities are printed while later input is still unread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from swiss_ner.commands.tag import STREAM_CHUNK, collect_texts
from swiss_ner.inference.texts import text_lines

TEXT = "Die Credit Suisse hat ihren Sitz in Zürich."


def test_first_chunk_is_printed_before_stdin_ends(trained_model_dir):
    command = [sys.executable, "-m", "swiss_ner.cli", "tag", "--json", "--model",
               str(trained_model_dir)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        texts = [f"{TEXT} ({number})" for number in range(STREAM_CHUNK + 6)]
        child.stdin.write("".join(text + "\n" for text in texts[:STREAM_CHUNK]))
        child.stdin.flush()
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(child.stdout.readline()))
        reader.start()
        reader.join(timeout=120)
        assert first and json.loads(first[0])["text"] == texts[0], "nothing printed before EOF"
        child.stdin.write("".join(text + "\n" for text in texts[STREAM_CHUNK:]))
        child.stdin.close()
        rest = child.stdout.read().splitlines()
        assert child.wait(timeout=120) == 0
    finally:
        child.kill()
    assert [json.loads(line)["text"] for line in [first[0], *rest]] == texts


def test_file_lines_stream_like_the_whole_file_reader(tmp_path):
    path = tmp_path / "news.txt"
    path.write_bytes("\ufeffBern\r\n\nGenf\rBasel\n  \nLugano".encode())
    assert list(text_lines(str(path))) == ["Bern", "Genf", "Basel", "Lugano"]
    assert collect_texts(["Chur"], [str(path)], None) == ["Chur", "Bern", "Genf", "Basel", "Lugano"]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\r\nZ\xfcrich\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: not valid UTF-8 \(byte 0xfc at column 2\)"):
        list(text_lines(str(bad)))
