"""Dynamic batching: requests that arrive together are tagged in one call of the model.

One worker takes the first waiting request and everything queued behind it, up to
``max_batch_size`` texts and ``max_batch_tokens`` sub-words; under load (the last batch held
several requests) it also waits up to ``max_batch_wait_s`` for more. It tags the batch in one
call on a thread of its own and answers each request with its own slice. The queue is bounded,
so a burst beyond it is refused at once (:class:`QueueFull`) instead of waiting without end. If
a batch fails, its requests are tagged again one by one, so that only the request that breaks
the model fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


class QueueFull(Exception):
    """The queue holds ``max_queue`` requests already; the client should retry later."""


@dataclass
class _Item:
    texts: list[str]
    cost: int
    future: asyncio.Future


class Batcher:
    """Tags the texts of concurrent requests in shared calls of ``tag``.

    ``tag`` maps a list of texts to one result per text, in order (``NerTagger.tag``); ``cost``
    counts the sub-word tokens of a list of texts, for the token budget.
    """

    def __init__(
        self,
        tag: Callable[[list[str]], Sequence[Any]],
        cost: Callable[[list[str]], int],
        max_batch_size: int = 64,
        max_batch_wait_s: float = 0.002,
        max_batch_tokens: int = 8192,
        max_queue: int = 256,
    ) -> None:
        self._tag = tag
        self._cost = cost
        self.max_batch_size = max_batch_size
        self.max_batch_wait_s = max_batch_wait_s
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self._queue: asyncio.Queue[_Item] | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._busy = False

    @property
    def pending(self) -> int:
        """Requests waiting in the queue (not those being tagged)."""
        return self._queue.qsize() if self._queue else 0

    async def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue(maxsize=self.max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="swiss-ner-tag")
        self._worker = asyncio.create_task(self._work(), name="swiss-ner-batcher")

    async def close(self) -> None:
        """Stop the worker; requests still waiting fail with RuntimeError."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        while self._queue is not None and not self._queue.empty():
            _fail(self._queue.get_nowait(), RuntimeError("the server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, texts: list[str]) -> list[Any]:
        """The results of ``tag`` for ``texts``, tagged together with concurrent requests.

        Raises :class:`QueueFull` when ``max_queue`` requests wait already, and whatever
        ``tag`` raised on these texts.
        """
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        item = _Item(list(texts), self._cost(texts), asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise QueueFull(f"{self.max_queue} requests are waiting already") from None
        return await item.future

    async def _work(self) -> None:
        carry: _Item | None = None
        while True:
            first = carry or await self._queue.get()
            if first.future.done():  # the client went away while it waited
                carry = None
                continue
            batch, carry = await self._collect(first)
            self._busy = len(batch) > 1 or carry is not None
            await self._run(batch)

    async def _collect(self, first: _Item) -> tuple[list[_Item], _Item | None]:
        """The batch that starts with ``first``, and the request that did not fit, if any."""
        loop = asyncio.get_running_loop()
        batch, size, tokens = [first], len(first.texts), first.cost
        # Wait for companions only under load (the last batch held several requests): a lone
        # client would only pay the wait, since nobody else is coming.
        deadline = loop.time() + (self.max_batch_wait_s if self._busy else 0.0)
        while size < self.max_batch_size:
            if self._queue.empty():
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            if item.future.done():
                continue
            if size + len(item.texts) > self.max_batch_size or tokens + item.cost > (
                self.max_batch_tokens
            ):
                return batch, item
            batch.append(item)
            size, tokens = size + len(item.texts), tokens + item.cost
        return batch, None

    async def _run(self, batch: list[_Item]) -> None:
        """Tag the batch on the worker thread and answer each request; on failure, retry alone."""
        texts = [text for item in batch for text in item.texts]
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._tag, texts)
            if len(results) != len(texts):
                raise RuntimeError(f"the tagger returned {len(results)} results for "
                                   f"{len(texts)} texts")
        except Exception as error:
            if len(batch) == 1:
                _fail(batch[0], error)
                return
            for item in batch:
                await self._run([item])
            return
        position = 0
        for item in batch:
            end = position + len(item.texts)
            if not item.future.done():
                item.future.set_result(list(results[position:end]))
            position = end


def _fail(item: _Item, error: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(error)
