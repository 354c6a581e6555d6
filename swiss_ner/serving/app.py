"""The HTTP app: the Hugging Face Inference API's token-classification route on Starlette.

``POST /`` takes ``{"inputs": str | [str], "parameters": {...}}`` and answers a list (or a list
of lists) of ``{"entity_group", "score", "word", "start", "end"}``, offsets into the input, as
``huggingface_hub.InferenceClient.token_classification`` expects. ``GET /health`` answers once
the app runs, which is after the model has loaded. Every error is ``{"error": "<one line>"}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from swiss_ner.config.serve import ServeConfig
from swiss_ner.serving.batcher import Batcher, QueueFull
from swiss_ner.serving.limits import (
    RequestError,
    TagRequest,
    check_api_key,
    parse_request,
    read_body,
)

logger = logging.getLogger("swiss_ner.serving")

# Seconds a client told 503 should wait before it retries: a full queue drains in well under
# that on a CPU, and clients that back off for longer lose little.
RETRY_AFTER_S = 1


def error_response(status: int, message: str, headers: dict[str, str] | None = None):
    """``{"error": message}`` with ``status``; the message is kept to one line."""
    return JSONResponse({"error": " ".join(message.split())}, status, headers=headers)


def token_counter(tokenizer_json: str) -> Callable[[list[str]], int]:
    """Counts the sub-words of texts with a fast tokenizer given as its JSON
    (``tokenizer.backend_tokenizer.to_str()``).

    A copy of the tagger's own, built in the server's process: a Rust tokenizer must not be
    used from the event loop while another thread tokenises with it, and the model's process
    is busy tagging.
    """
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(tokenizer_json)
    counter.no_truncation()
    counter.no_padding()

    def count(texts: list[str]) -> int:
        encodings = counter.encode_batch(texts, add_special_tokens=False)
        return sum(len(encoding.ids) for encoding in encodings)

    return count


def entity_json(entity) -> dict:
    """One entity as the Inference API writes it; ``word`` is the exact slice of the input."""
    return {
        "entity_group": entity.type,
        "score": entity.score,
        "word": entity.text,
        "start": entity.start,
        "end": entity.end,
    }


def answer(request: TagRequest, results: Sequence[Sequence]) -> list:
    """The response body: one list of entities per text, or a single list for a string input."""
    ignored = request.parameters.ignore_labels
    lists = [[entity_json(e) for e in entities if e.type not in ignored] for entities in results]
    return lists if request.batched else lists[0]


def create_app(
    tag: Callable[[list[str]], Sequence],
    config: ServeConfig,
    cost: Callable[[list[str]], int] | None = None,
) -> Starlette:
    """The ASGI app around ``tag`` (``NerTagger.tag``), with the batching and limits of
    ``config``; ``cost`` counts sub-words for the token budget (default: characters / 4)."""
    batcher = Batcher(
        tag,
        cost or (lambda texts: sum(len(text) for text in texts) // 4 + 1),
        max_batch_size=config.max_batch_size,
        max_batch_wait_s=config.max_batch_wait_ms / 1000,
        max_batch_tokens=config.max_batch_tokens,
        max_queue=config.max_queue,
    )

    async def tag_route(request: Request) -> JSONResponse:
        started = time.perf_counter()
        texts: list[str] = []
        response = await _answer_request(request, batcher, config, texts)
        _log(request, response, texts, started, config.log_texts)
        return response

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, error.detail, error.headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.close()

    app = Starlette(
        routes=[
            Route("/", tag_route, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    return app


async def _answer_request(
    request: Request, batcher: Batcher, config: ServeConfig, texts: list[str]
) -> JSONResponse:
    """The answer to one ``POST /``; ``texts`` receives the request's texts, for the log."""
    try:
        check_api_key(request.headers.get("authorization"), config.api_key)
        body = await read_body(
            request.stream(), request.headers.get("content-length"), config.max_body_bytes
        )
        parsed = parse_request(body, config.max_text_chars)
        texts.extend(parsed.texts)
        results = await batcher.submit(parsed.texts) if parsed.texts else []
        return JSONResponse(answer(parsed, results))
    except RequestError as error:
        return error_response(error.status, error.message, error.headers)
    except QueueFull as error:
        return error_response(
            503, f"server busy: {error}; retry later", {"Retry-After": str(RETRY_AFTER_S)}
        )
    except Exception as error:  # the model failed on these texts; the server goes on
        return error_response(500, f"tagging failed: {type(error).__name__}: {error}")


def _log(request: Request, response, texts: list[str], started: float, log_texts: bool) -> None:
    """One line per request: method, path, status, number of texts, milliseconds; the error
    when there is one, and the texts only when asked to."""
    milliseconds = (time.perf_counter() - started) * 1000
    line = (f"{request.method} {request.url.path} {response.status_code} "
            f"texts={len(texts)} {milliseconds:.1f} ms")
    if response.status_code >= 400:
        line += f" error={json.loads(response.body)['error']!r}"
    if log_texts and texts:
        line += f" inputs={json.dumps(texts, ensure_ascii=False)}"
    logger.info(line)

