"""The model in a process of its own, so that tagging and HTTP never wait for each other's GIL.

In one process the event loop (parsing requests, writing answers) and the tagging thread take
turns at the interpreter, and torch's threads ran slower on a thread that is not the main one
(on 2 cores, moving the model into its own process doubled the batched requests/s of
``bench/serve_load.py``). So the server's process runs only the event loop, and a child process
started with ``spawn`` loads the tagger and runs it on its main thread. The child answers one
call at a time over a pipe; the server never imports torch.

The child ignores SIGINT and SIGTERM: the server drains its accepted requests first, then closes
the pipe, and the child exits when the pipe closes, also when the server was killed.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

# Seconds the child may take to exit after its pipe closed before it is terminated.
EXIT_TIMEOUT_S = 10


class WorkerError(RuntimeError):
    """The tagging process failed to load the model, or died."""


def _child_main(load: Callable[[], Any], connection) -> None:
    """In the child: load the tagger, report ready (with the tokenizer), then tag until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        tagger = load()
    except Exception as error:  # reported to the parent as one line
        connection.send(("failed", " ".join(f"{type(error).__name__}: {error}".split())))
        return
    connection.send(("ready", tagger.tokenizer.backend_tokenizer.to_str()))
    while True:
        try:
            texts = connection.recv()
        except EOFError:  # the server closed the pipe or has gone
            return
        try:
            reply = ("ok", tagger.tag(texts))
        except Exception as error:
            reply = ("error", error)
        try:
            connection.send(reply)
        except Exception as error:  # an exception that cannot be pickled
            connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))


class TaggerProcess:
    """``tag(texts)`` runs the tagger that ``load()`` returns in a child process.

    ``load`` must be picklable (a module-level function, or a ``functools.partial`` of one). A
    child that died is started again on the next call, so one crash costs the batch it was
    tagging, not the service.
    """

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process = None
        self._connection = None
        self.tokenizer_json: str | None = None

    def start(self) -> None:
        """Start the child and wait until it has loaded the model; WorkerError if it cannot."""
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_child_main, args=(self._load, child_end), name="swiss-ner-tagger", daemon=True
        )
        process.start()
        child_end.close()
        try:
            status, payload = parent_end.recv()
        except EOFError:
            process.join()
            raise WorkerError(
                f"the tagging process exited with code {process.exitcode} while loading"
            ) from None
        if status != "ready":
            process.join()
            raise WorkerError(payload)
        self._process, self._connection, self.tokenizer_json = process, parent_end, payload

    def tag(self, texts: Sequence[str]) -> list:
        """The tagger's results for ``texts``; raises what the tagger raised on them."""
        with self._lock:
            if self._connection is None:
                self.start()
            try:
                self._connection.send(list(texts))
                status, payload = self._connection.recv()
            except (EOFError, OSError):
                code = self._stop()
                raise WorkerError(f"the tagging process died (exit code {code}); it is "
                                  "started again for the next request") from None
        if status == "error":
            raise payload
        return payload

    def close(self) -> None:
        """Close the pipe and wait for the child to exit."""
        with self._lock:
            self._stop()

    def _stop(self) -> int | None:
        if self._connection is not None:
            self._connection.close()
        process, self._process, self._connection = self._process, None, None
        if process is None:
            return None
        process.join(EXIT_TIMEOUT_S)
        if process.is_alive():
            process.terminate()
            process.join()
        return process.exitcode
