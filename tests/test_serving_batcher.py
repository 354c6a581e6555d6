"""The request batcher: concurrent requests share calls of the tagger within the size, token
and queue bounds, each gets its own results, and a failing request fails alone."""

from __future__ import annotations

import asyncio
import threading

import pytest

from swiss_ner.serving.batcher import Batcher, QueueFull


class Gate:
    """A fake tagger that upper-cases texts, records each call, and holds its first call until
    released, so that requests pile up in the queue meanwhile."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, texts: list[str]) -> list[str]:
        self.calls.append(list(texts))
        self.entered.set()
        self.release.wait(10)
        if self.fail_on is not None and self.fail_on in texts:
            raise ValueError(f"cannot tag {self.fail_on!r}")
        return [text.upper() for text in texts]


async def until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def pile_up(batcher: Batcher, gate: Gate, requests: list[list[str]]) -> list:
    """Submit the first request, wait until it is being tagged, queue the others, then release
    the tagger and gather every outcome (results or the exception)."""
    await batcher.start()
    try:
        first = asyncio.create_task(batcher.submit(requests[0]))
        await until(gate.entered.is_set)
        others = [asyncio.create_task(batcher.submit(texts)) for texts in requests[1:]]
        await until(lambda: batcher.pending == len(others))
        gate.release.set()
        return await asyncio.gather(first, *others, return_exceptions=True)
    finally:
        await batcher.close()


def test_waiting_requests_share_one_call_and_keep_their_own_results():
    gate = Gate()
    batcher = Batcher(gate, cost=len, max_batch_size=8, max_batch_wait_s=0.0)
    requests = [["a"], ["b", "c"], ["d"], ["e"]]
    results = asyncio.run(pile_up(batcher, gate, requests))
    assert results == [["A"], ["B", "C"], ["D"], ["E"]]
    assert gate.calls == [["a"], ["b", "c", "d", "e"]]


def test_a_batch_stops_at_the_size_and_token_budgets():
    gate = Gate()
    by_size = Batcher(gate, cost=len, max_batch_size=2, max_batch_wait_s=0.0)
    asyncio.run(pile_up(by_size, gate, [["a"], ["b"], ["c"], ["d"], ["e"]]))
    assert gate.calls == [["a"], ["b", "c"], ["d", "e"]]

    gate = Gate()
    tokens = Batcher(gate, cost=lambda texts: sum(map(len, texts)), max_batch_size=64,
                     max_batch_tokens=5, max_batch_wait_s=0.0)
    asyncio.run(pile_up(tokens, gate, [["x"], ["aaa"], ["bb"], ["cccccccc"], ["d"]]))
    assert gate.calls == [["x"], ["aaa", "bb"], ["cccccccc"], ["d"]]


def test_batch_size_one_tags_every_request_alone():
    gate = Gate()
    batcher = Batcher(gate, cost=len, max_batch_size=1, max_batch_wait_s=0.05)
    asyncio.run(pile_up(batcher, gate, [["a"], ["b"], ["c"]]))
    assert gate.calls == [["a"], ["b"], ["c"]]


def test_under_load_a_batch_waits_for_requests_that_arrive_within_the_wait():
    async def scenario(batcher: Batcher) -> None:
        await batcher.start()
        try:
            assert await batcher.submit(["alone"]) == ["ALONE"]  # idle: tagged at once
            load = [asyncio.create_task(batcher.submit([text])) for text in ("x", "y")]
            await asyncio.gather(*load)  # x and y share a batch: the batcher is busy from now on
            first = asyncio.create_task(batcher.submit(["a"]))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(batcher.submit(["b"]))
            assert await asyncio.gather(first, second) == [["A"], ["B"]]
        finally:
            await batcher.close()

    gate = Gate()
    gate.release.set()
    asyncio.run(scenario(Batcher(gate, cost=len, max_batch_size=2, max_batch_wait_s=5.0)))
    assert gate.calls == [["alone"], ["x", "y"], ["a", "b"]]


def test_a_full_queue_refuses_at_once():
    async def scenario() -> None:
        gate = Gate()
        batcher = Batcher(gate, cost=len, max_batch_size=1, max_batch_wait_s=0.0, max_queue=1)
        await batcher.start()
        try:
            running = asyncio.create_task(batcher.submit(["a"]))
            await until(gate.entered.is_set)
            waiting = asyncio.create_task(batcher.submit(["b"]))
            await until(lambda: batcher.pending == 1)
            with pytest.raises(QueueFull, match="1 requests are waiting"):
                await batcher.submit(["c"])
            gate.release.set()
            assert await asyncio.gather(running, waiting) == [["A"], ["B"]]
        finally:
            await batcher.close()

    asyncio.run(scenario())


def test_a_failing_request_fails_alone_and_the_worker_goes_on():
    gate = Gate(fail_on="bad")
    batcher = Batcher(gate, cost=len, max_batch_size=8, max_batch_wait_s=0.0)
    results = asyncio.run(pile_up(batcher, gate, [["a"], ["b"], ["bad"], ["c"]]))
    assert results[:2] == [["A"], ["B"]] and results[3] == ["C"]
    assert isinstance(results[2], ValueError)
    assert gate.calls == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]
