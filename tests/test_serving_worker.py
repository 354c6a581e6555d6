"""The model's process: answers, errors, a crash and restart, a failed load, and the exit."""

from __future__ import annotations

import pytest
from fakes import load_fake_tagger, load_nothing

from swiss_ner.serving.worker import TaggerProcess, WorkerError


@pytest.fixture()
def worker():
    process = TaggerProcess(load_fake_tagger)
    process.start()
    yield process
    process.close()


def test_texts_are_tagged_in_the_child_and_its_tokenizer_is_passed_up(worker):
    import os

    assert worker.tokenizer_json == '{"fake": "tokenizer"}'
    results = worker.tag(["a", "abc"])
    assert [length for length, _ in results] == [1, 3]
    assert {pid for _, pid in results} != {os.getpid()}


def test_an_error_in_the_model_is_raised_as_itself_and_the_child_goes_on(worker):
    with pytest.raises(ValueError, match="broke on 'bad'"):
        worker.tag(["ok", "bad"])
    assert worker.tag(["ok"])[0][0] == 2


def test_a_child_that_dies_fails_its_call_and_is_started_again(worker):
    first_pid = worker.tag(["x"])[0][1]
    with pytest.raises(WorkerError, match="exit code 3"):
        worker.tag(["die"])
    length, pid = worker.tag(["again"])[0]
    assert (length, pid != first_pid) == (5, True)


def test_a_model_that_cannot_load_is_one_line():
    with pytest.raises(WorkerError, match="^OSError: model folder 'missing' does not exist$"):
        TaggerProcess(load_nothing).start()


def test_close_ends_the_child(worker):
    process = worker._process
    worker.close()
    assert not process.is_alive() and process.exitcode == 0
