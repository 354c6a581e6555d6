"""Markdown tables without ``tabulate``, which pandas' ``to_markdown`` needs and we do not ship."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd


def format_cell(value: object, float_format: str = "{:.3f}") -> str:
    """One cell as text: floats with ``float_format``, missing values empty, pipes escaped."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return float_format.format(value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    frame: pd.DataFrame, float_format: str = "{:.3f}", index: bool = True
) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (numbers right-aligned)."""
    columns: list[str] = [str(c) for c in frame.columns]
    rows: list[list[str]] = [
        [format_cell(value, float_format) for value in record]
        for record in frame.itertuples(index=False, name=None)
    ]
    numeric: list[bool] = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    if index:
        index_name = frame.index.name if frame.index.name is not None else ""
        columns = [str(index_name), *columns]
        rows = [[format_cell(label), *row] for label, row in zip(frame.index, rows, strict=True)]
        numeric = [pd.api.types.is_numeric_dtype(frame.index), *numeric]
    return _render(columns, rows, numeric)


def _render(columns: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    widths = [max([len(c), 3, *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * (width - 1) + ":" if is_number else "-" * width
        for width, is_number in zip(widths, numeric, strict=True)
    ]
    return "\n".join([line(columns), "| " + " | ".join(rule) + " |", *(line(r) for r in rows)])
