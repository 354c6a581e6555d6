"""What a request to ``swiss-ner serve`` may be: the API key, the body size and the Inference
API's token-classification body, each refusal with its status and the field it names."""

from __future__ import annotations

import asyncio
import json

import pytest

from swiss_ner.serving.limits import RequestError, check_api_key, parse_request, read_body


def refusal(function, *args) -> RequestError:
    with pytest.raises(RequestError) as caught:
        function(*args)
    assert "\n" not in caught.value.message
    return caught.value


def test_a_string_is_one_text_and_a_list_is_a_batch():
    single = parse_request(b'{"inputs": "Roger Federer vive a Lugano."}', 100)
    assert single.texts == ["Roger Federer vive a Lugano."] and not single.batched
    batch = parse_request(json.dumps({"inputs": ["a", "b"]}).encode(), 100)
    assert batch.texts == ["a", "b"] and batch.batched
    assert parse_request(b'{"inputs": []}', 100).texts == []


def test_the_parameters_of_the_inference_api_are_accepted():
    body = {
        "inputs": "x",
        "parameters": {"aggregation_strategy": "first", "ignore_labels": ["LOC"], "stride": 16},
        "options": {"wait_for_model": True},
    }
    assert parse_request(json.dumps(body).encode(), 100).parameters.ignore_labels == {"LOC"}
    simple = {"inputs": "x", "parameters": {"aggregation_strategy": "simple"}}
    assert parse_request(json.dumps(simple).encode(), 100).parameters.ignore_labels == set()


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b'["x"]', 422, "JSON object"),
        (b"{}", 422, "'inputs'"),
        (b'{"inputs": 3}', 422, "inputs must be a string"),
        (b'{"inputs": ["a", null]}', 422, "inputs[1]"),
        (b'{"inputs": "a", "text": "b"}', 422, "'text'"),
        (b'{"inputs": "a", "parameters": []}', 422, "parameters must be an object"),
        (b'{"inputs": "a", "parameters": {"top_k": 3}}', 422, "parameters.top_k"),
        (b'{"inputs": "a", "parameters": {"aggregation_strategy": "none"}}', 422,
         "parameters.aggregation_strategy"),
        (b'{"inputs": "a", "parameters": {"stride": -1}}', 422, "parameters.stride"),
        (b'{"inputs": "a", "parameters": {"stride": true}}', 422, "parameters.stride"),
        (b'{"inputs": "a", "parameters": {"ignore_labels": "O"}}', 422,
         "parameters.ignore_labels"),
        (b'{"inputs": "a", "options": {"use_gpu": true}}', 422, "options.use_gpu"),
        (b'{"inputs": "' + b"x" * 11 + b'"}', 413, "--max-text-chars"),
        (b'{"inputs": ["ok", "' + b"x" * 11 + b'"]}', 413, "inputs[1] has 11 characters"),
    ],
)
def test_a_bad_body_is_refused_naming_the_field(body, status, names):
    error = refusal(parse_request, body, 10)
    assert error.status == status
    assert names in error.message


def test_the_api_key_is_required_when_configured():
    check_api_key(None, None)
    check_api_key("Bearer s3cret", "s3cret")
    check_api_key("bearer  s3cret ", "s3cret")
    for header in (None, "", "Bearer", "Bearer wrong", "Basic s3cret", "s3cret", "Bearer s3cre"):
        error = refusal(check_api_key, header, "s3cret")
        assert error.status == 401
        assert error.headers == {"WWW-Authenticate": "Bearer"}


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


def test_a_body_over_the_limit_is_refused_declared_or_streamed():
    assert asyncio.run(read_body(_chunks(b"ab", b"cd"), "4", 4)) == b"abcd"
    declared = refusal(asyncio.run, read_body(_chunks(), "5", 4))
    streamed = refusal(asyncio.run, read_body(_chunks(b"abc", b"de"), None, 4))
    for error in (declared, streamed):
        assert error.status == 413
        assert "4 bytes (--max-body-bytes)" in error.message
