"""Lines of UTF-8 text files: texts for ``swiss-ner tag --file``, and the data reader's lines.

A file saved by an editor may start with a byte-order mark, which would otherwise glue itself to
the first word, and a file in Latin-1 or Windows-1252 would fail deep in the decoder with a
message that names neither the file nor the line; both are handled here, once for every reader.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator

NEWLINES = re.compile(r"\r\n|\r|\n")


def numbered_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line of a UTF-8 file, read as a stream, without line ends
    (``\\n``, ``\\r\\n`` or ``\\r``) and without a leading BOM; blank lines are kept.

    Raises ValueError naming the file, line and column of the first byte that is not UTF-8.
    """
    number = 0
    with open(path, "rb") as handle:
        for data in handle:  # chunks that end at b"\n"; a lone "\r" is split below
            if number == 0 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise _not_utf8(path, data, error, number) from None
            pieces = NEWLINES.split(text)
            if len(pieces) > 1 and not pieces[-1]:
                pieces.pop()  # the end of the chunk's last line, not a line of its own
            for piece in pieces:
                number += 1
                yield number, piece


def _not_utf8(path, data: bytes, error: UnicodeDecodeError, lines_before: int) -> ValueError:
    before = data[: error.start]
    line = lines_before + len(NEWLINES.findall(before.decode("utf-8", "replace"))) + 1
    line_start = max(before.rfind(b"\r"), before.rfind(b"\n")) + 1
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return ValueError(
        f"{path}:{line}: not valid UTF-8 (byte 0x{data[error.start]:02x} at column {column}); "
        "save the file as UTF-8"
    )


def text_lines(path: str | os.PathLike) -> Iterator[str]:
    """The non-blank lines of a UTF-8 file, read as a stream (see :func:`numbered_lines`)."""
    return (line for _, line in numbered_lines(path) if line.strip())


def read_text_lines(path: str | os.PathLike) -> list[str]:
    """The non-blank lines of a UTF-8 file, without line ends and without a leading BOM.

    Raises ValueError naming the file, line and column of the first byte that is not UTF-8.
    """
    return list(text_lines(path))
