"""Progress that reads well wherever it goes: a live tqdm bar on a terminal, and on a log file or
pipe whole lines at most every ``LOG_INTERVAL_S`` seconds, without ``\\r`` frames."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

LOG_INTERVAL_S = 30.0
LINE_FORMAT = (
    "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} "
    "[{elapsed}<{remaining}, {rate_fmt}{postfix}]"
)


class PlainProgress(tqdm):
    """tqdm writing one plain line per update interval; for output that is not a terminal."""

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "":  # tqdm clearing its line: a log has nothing to clear
            return False
        self.fp.write((msg if msg is not None else str(self)) + "\n")
        self.fp.flush()
        return True

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = False, **kwargs: Any) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)  # shown with the next line

    def close(self) -> None:
        if self.disable:
            return
        self.leave = False  # the final line is written here, not followed by tqdm's newline
        if self.last_print_n != self.n:
            self.display()
        super().close()


def progress_bar(*args: Any, file: Any = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on a terminal, else :class:`PlainProgress` lines every ``LOG_INTERVAL_S``."""
    stream = file if file is not None else sys.stderr
    if stream.isatty():
        return tqdm(*args, file=stream, **kwargs)
    kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    kwargs.setdefault("bar_format", LINE_FORMAT if kwargs.get("total") or args else None)
    return PlainProgress(*args, file=stream, **kwargs)
