"""What a request may be: its key, its size, and the Inference API's token-classification body.

Every refusal is a :class:`RequestError` with the HTTP status and one line that names the field
or the limit, so that a client can fix its request without reading the server's log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterable
from dataclasses import dataclass, field

# The token-classification parameters of the Inference API (huggingface_hub's
# TokenClassificationParameters). Our words are tagged by their first sub-word and never split,
# which is "first"; "simple" is accepted too because clients send it by habit.
AGGREGATION_STRATEGIES = ("first", "simple")
KNOWN_PARAMETERS = ("aggregation_strategy", "ignore_labels", "stride")
# Legacy Inference API options; the model is always loaded and nothing is cached, so both are
# accepted and have no effect.
KNOWN_OPTIONS = ("use_cache", "wait_for_model")


class RequestError(Exception):
    """A request the service refuses: HTTP ``status``, a one-line ``message``, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Parameters:
    """The request's parameters that change the answer."""

    ignore_labels: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class TagRequest:
    """A validated request: its texts, whether ``inputs`` was a list, and its parameters."""

    texts: list[str]
    batched: bool
    parameters: Parameters


def check_api_key(authorization: str | None, api_key: str | None) -> None:
    """Raise 401 unless ``authorization`` is ``Bearer <api_key>`` (no key configured: pass).

    Both sides are hashed first and compared with ``hmac.compare_digest``, so the time taken
    tells neither where they differ nor how long the key is.
    """
    if api_key is None:
        return
    scheme, _, token = (authorization or "").partition(" ")
    supplied = token.strip() if scheme.lower() == "bearer" else ""
    digests = [hashlib.sha256(value.encode()).digest() for value in (supplied, api_key)]
    if not hmac.compare_digest(*digests):
        raise RequestError(
            401,
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )


async def read_body(
    chunks: AsyncIterable[bytes], content_length: str | None, max_bytes: int
) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``max_bytes``."""
    too_large = RequestError(413, f"request body exceeds the limit of {max_bytes} bytes "
                                  f"(--max-body-bytes)")
    if content_length is not None and content_length.isdigit() and int(content_length) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in chunks:
        body.extend(chunk)
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def parse_request(body: bytes, max_text_chars: int) -> TagRequest:
    """The texts and parameters of an Inference API body ``{"inputs": ..., "parameters": ...}``.

    Raises 400 for a body that is not JSON and 422 for a wrong field, naming it; 413 for a text
    over ``max_text_chars``.
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(400, f"body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise RequestError(422, f"body must be a JSON object, got {_json_type(payload)}")
    unknown = sorted(set(payload) - {"inputs", "parameters", "options"})
    if unknown:
        raise RequestError(422, f"unknown field {unknown[0]!r}; "
                                "expected 'inputs' and optionally 'parameters'")
    if "inputs" not in payload:
        raise RequestError(422, "field 'inputs' is required: a string or a list of strings")
    texts, batched = _texts(payload["inputs"], max_text_chars)
    _check_options(payload.get("options"))
    return TagRequest(texts, batched, _parameters(payload.get("parameters")))


def _texts(inputs: object, max_text_chars: int) -> tuple[list[str], bool]:
    if isinstance(inputs, str):
        texts, batched = [inputs], False
    elif isinstance(inputs, list):
        texts, batched = inputs, True
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise RequestError(422, f"inputs[{index}] must be a string, "
                                        f"got {_json_type(text)}")
    else:
        raise RequestError(422, f"inputs must be a string or a list of strings, "
                                f"got {_json_type(inputs)}")
    for index, text in enumerate(texts):
        if len(text) > max_text_chars:
            name = f"inputs[{index}]" if batched else "inputs"
            raise RequestError(413, f"{name} has {len(text)} characters, over the limit of "
                                    f"{max_text_chars} (--max-text-chars)")
    return texts, batched


def _parameters(parameters: object) -> Parameters:
    if parameters is None:
        return Parameters()
    if not isinstance(parameters, dict):
        raise RequestError(422, f"parameters must be an object, got {_json_type(parameters)}")
    unknown = sorted(set(parameters) - set(KNOWN_PARAMETERS))
    if unknown:
        raise RequestError(422, f"unknown parameter 'parameters.{unknown[0]}'; token "
                                f"classification takes {', '.join(KNOWN_PARAMETERS)}")
    strategy = parameters.get("aggregation_strategy")
    if strategy is not None and strategy not in AGGREGATION_STRATEGIES:
        raise RequestError(422, f"parameters.aggregation_strategy must be one of "
                                f"{', '.join(AGGREGATION_STRATEGIES)} (whole words tagged by "
                                f"their first sub-word), got {json.dumps(strategy)}")
    stride = parameters.get("stride")
    if stride is not None and (type(stride) is not int or stride < 0):
        raise RequestError(422, f"parameters.stride must be a non-negative integer, "
                                f"got {json.dumps(stride)}")
    labels = parameters.get("ignore_labels")
    if labels is None:
        return Parameters()
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise RequestError(422, "parameters.ignore_labels must be a list of strings")
    return Parameters(frozenset(labels))


def _check_options(options: object) -> None:
    if options is None:
        return
    if not isinstance(options, dict):
        raise RequestError(422, f"options must be an object, got {_json_type(options)}")
    for name, value in options.items():
        if name not in KNOWN_OPTIONS:
            raise RequestError(422, f"unknown option 'options.{name}'; "
                                    f"known: {', '.join(KNOWN_OPTIONS)}")
        if not isinstance(value, bool):
            raise RequestError(422, f"options.{name} must be true or false")


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, as a client wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)
