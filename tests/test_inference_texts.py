"""Texts read from files for ``swiss-ner tag --file``: BOM, line ends, non-UTF-8 input."""

from __future__ import annotations

import pytest

from swiss_ner.inference import read_text_lines, split_words


def test_lines_come_without_bom_line_ends_or_blank_lines(tmp_path):
    path = tmp_path / "news.txt"
    path.write_bytes("\ufeffZürich liegt am See.\r\n\r\n  \nUBS in Basel\rNestlé\n".encode())
    lines = read_text_lines(path)
    assert lines == ["Zürich liegt am See.", "UBS in Basel", "Nestlé"]
    assert split_words(lines[0])[0] == ("Zürich", 0, 6)


def test_an_empty_file_has_no_texts(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert read_text_lines(path) == []


def test_a_latin1_file_is_refused_with_file_line_and_column(tmp_path):
    path = tmp_path / "news.txt"
    path.write_bytes("erste Zeile\nzweite\nCaf\u00e9 in Genf\n".encode("latin-1"))
    with pytest.raises(ValueError) as error:
        read_text_lines(path)
    assert str(error.value) == (
        f"{path}:3: not valid UTF-8 (byte 0xe9 at column 4); save the file as UTF-8"
    )


def test_the_column_counts_characters_not_bytes(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes("\ufeffZürich ".encode() + b"\xff")
    with pytest.raises(ValueError, match=r"mixed.txt:1: not valid UTF-8 \(byte 0xff at column 8\)"):
        read_text_lines(path)


def test_a_missing_file_raises_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_text_lines(tmp_path / "nowhere.txt")


def test_numbered_lines_keep_blank_lines_and_count_every_line_end(tmp_path):
    from swiss_ner.inference.texts import numbered_lines

    path = tmp_path / "train-de.tsv"
    path.write_bytes("\ufeffBern\tB-LOC\r\n\r\nGenf\tB-LOC\rZug\tB-LOC\n".encode())
    assert list(numbered_lines(path)) == [(1, "Bern\tB-LOC"), (2, ""), (3, "Genf\tB-LOC"),
                                    (4, "Zug\tB-LOC")]
    path.write_bytes(b"eins\r\nzwei\rdrei Caf\xe9\n")
    with pytest.raises(ValueError, match=r"de.tsv:3: not valid UTF-8 \(byte 0xe9 at column 9"):
        list(numbered_lines(path))
