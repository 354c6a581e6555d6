"""Lines of UTF-8 text files: texts for ``swiss-ner tag --file``, and the data reader's lines.

A file saved by an editor may start with a byte-order mark, which would otherwise glue itself to
the first word, and a file in Latin-1 or Windows-1252 would fail deep in the decoder with a
message that names neither the file nor the line; both are handled here, once for every reader.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path


def numbered_lines(path: str | os.PathLike) -> list[tuple[int, str]]:
    """``(line number, text)`` of every line of a UTF-8 file, without line ends (``\\n``,
    ``\\r\\n`` or ``\\r``) and without a leading BOM; blank lines are kept.

    Raises ValueError naming the file, line and column of the first byte that is not UTF-8.
    """
    data = Path(path).read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = max(data.rfind(b"\n", 0, error.start), data.rfind(b"\r", 0, error.start)) + 1
        line = data[: error.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        column = len(data[line_start : error.start].decode("utf-8", errors="replace")) + 1
        raise ValueError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{data[error.start]:02x} at column {column}); "
            "save the file as UTF-8"
        ) from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and not lines[-1]:
        lines.pop()  # the end of the last line, not a line of its own
    return list(enumerate(lines, start=1))


def read_text_lines(path: str | os.PathLike) -> list[str]:
    """The non-blank lines of a UTF-8 file, without line ends and without a leading BOM.

    Raises ValueError naming the file, line and column of the first byte that is not UTF-8.
    """
    return [line for _, line in numbered_lines(path) if line.strip()]
