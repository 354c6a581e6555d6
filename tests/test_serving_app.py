"""The HTTP app on a real uvicorn server in a thread: the Inference API's request and response
(checked with huggingface_hub's own client), answers equal to one-at-a-time tagging under
concurrency, and each refusal with its status and one-line error."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from conftest import PANX_DIR

from swiss_ner.commands.serve import listen
from swiss_ner.config import ServeConfig
from swiss_ner.data import read_iob2
from swiss_ner.inference import NerTagger
from swiss_ner.serving.app import create_app, token_counter


@pytest.fixture(scope="module")
def tagger(trained_model_dir) -> NerTagger:
    return NerTagger.from_pretrained(str(trained_model_dir), device="cpu", batch_size=8)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    """Validation sentences of the four languages as raw text."""
    texts = []
    for lang in ("de", "fr", "it", "en"):
        tokens = read_iob2(PANX_DIR / f"validation-{lang}.tsv", lang)["tokens"]
        texts.extend(" ".join(words) for words in tokens[:12])
    return texts


def settings(model, **overrides) -> ServeConfig:
    values = dict(model=str(model), max_batch_wait_ms=20.0, max_body_bytes=20_000,
                  max_text_chars=2_000)
    values.update(overrides)
    return ServeConfig(**values)


@contextlib.contextmanager
def serving(app):
    """``app`` on uvicorn at a free 127.0.0.1 port; yields the base URL."""
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            time.sleep(0.01)
        assert server.started, "the test server did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def counter(tagger):
    """The server's token count, built from the tagger's tokenizer as the command builds it."""
    return token_counter(tagger.tokenizer.backend_tokenizer.to_str())


class GatedTagger:
    """Wraps ``tag``: records each call's texts, can hold the first call until released, and
    fails on texts that contain ``fail_on``."""

    def __init__(self, tag, hold: bool = False, fail_on: str | None = None):
        self.tag, self.calls, self.fail_on = tag, [], fail_on
        self.entered, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, texts):
        self.calls.append(list(texts))
        self.entered.set()
        self.release.wait(20)
        if self.fail_on and any(self.fail_on in text for text in texts):
            raise RuntimeError("the model broke")
        return self.tag(texts)


@pytest.fixture(scope="module")
def server(tagger, trained_model_dir):
    app = create_app(tagger.tag, settings(trained_model_dir), cost=counter(tagger))
    with serving(app) as url:
        yield url


def expected_json(entities) -> list[dict]:
    return [{"entity_group": e.type, "score": e.score, "word": e.text, "start": e.start,
             "end": e.end} for e in entities]


def assert_same(answer: list[dict], entities) -> None:
    """The entities and offsets equal exactly; scores to float noise of a padded batch."""
    expected = expected_json(entities)

    def without_scores(entities: list[dict]) -> list[dict]:
        return [{key: value for key, value in e.items() if key != "score"} for e in entities]

    assert without_scores(answer) == without_scores(expected)
    assert [e["score"] for e in answer] == pytest.approx([e["score"] for e in expected], abs=1e-4)


def test_inference_client_token_classification_works_unchanged(server, tagger, sentences,
                                                                 monkeypatch):
    from huggingface_hub import InferenceClient, constants

    # Offline mode makes huggingface_hub refuse every URL; lift it for this local client only.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    client = InferenceClient(model=server)
    found = 0
    for text in sentences[:6]:
        output = client.token_classification(text)
        expected = tagger.tag(text)[0]
        assert [(o.entity_group, o.word, o.start, o.end) for o in output] == [
            (e.type, e.text, e.start, e.end) for e in expected
        ]
        assert all(text[o.start:o.end] == o.word for o in output)
        found += len(output)
    assert found, "the trained tiny model found no entity; the comparison proves nothing"


def test_concurrent_answers_equal_one_text_at_a_time(tagger, trained_model_dir, sentences):
    gated = GatedTagger(tagger.tag, hold=True)
    app = create_app(gated, settings(trained_model_dir), cost=counter(tagger))
    bodies = [{"inputs": text} for text in sentences[:-8]]
    bodies += [{"inputs": sentences[i:i + 2]} for i in range(len(sentences) - 8, len(sentences), 2)]
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        with ThreadPoolExecutor(16) as pool:
            first = pool.submit(client.post, "/", json=bodies[0])
            assert gated.entered.wait(10)
            rest = [pool.submit(client.post, "/", json=body) for body in bodies[1:]]
            for _ in range(500):  # let the other requests queue up behind the held batch
                if app.state.batcher.pending >= 8:
                    break
                time.sleep(0.01)
            gated.release.set()
            responses = [first.result()] + [future.result() for future in rest]
    assert [response.status_code for response in responses] == [200] * len(bodies)
    for body, response in zip(bodies, responses, strict=True):
        if isinstance(body["inputs"], str):
            assert_same(response.json(), tagger.tag(body["inputs"])[0])
        else:
            assert len(response.json()) == len(body["inputs"])
            for text, answer in zip(body["inputs"], response.json(), strict=True):
                assert_same(answer, tagger.tag(text)[0])
    assert max(len(call) for call in gated.calls) >= 8, "no batch held several requests"


def test_batch_size_one_tags_each_request_alone(tagger, trained_model_dir, sentences):
    gated = GatedTagger(tagger.tag)
    app = create_app(gated, settings(trained_model_dir, max_batch_size=1))
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda t: client.post("/", json={"inputs": t}),
                                      sentences[:16]))
    assert {response.status_code for response in responses} == {200}
    assert sorted(map(len, gated.calls)) == [1] * 16


@pytest.mark.parametrize(
    ("content", "status", "names"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"inputs": 3}', 422, "inputs must be a string"),
        (b'{"inputs": ["a", 3]}', 422, "inputs[1]"),
        (b'{"inputs": "a", "parameters": {"top_k": 1}}', 422, "parameters.top_k"),
        (b'{"inputs": "' + b"x" * 2_001 + b'"}', 413, "--max-text-chars"),
        (b'{"inputs": "' + b"x " * 10_000 + b'"}', 413, "--max-body-bytes"),
    ],
)
def test_a_bad_request_gets_its_status_and_a_one_line_error(server, content, status, names):
    response = httpx.post(server, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert names in response.json()["error"] and "\n" not in response.json()["error"]


def test_a_streamed_body_over_the_limit_gets_413(server):
    def chunks():
        for _ in range(30):
            yield b"x" * 1000

    response = httpx.post(server, content=chunks())
    assert response.status_code == 413
    assert "--max-body-bytes" in response.json()["error"]


def test_lists_parameters_health_and_unknown_routes(server, tagger, sentences):
    texts = sentences[:3]
    answers = httpx.post(server, json={"inputs": texts}).json()
    for text, answer in zip(texts, answers, strict=True):
        assert_same(answer, tagger.tag(text)[0])
    assert httpx.post(server, json={"inputs": []}).json() == []
    kept = httpx.post(server, json={"inputs": texts, "parameters": {"ignore_labels": ["LOC"]}})
    assert kept.json() == [[e for e in answer if e["entity_group"] != "LOC"] for answer in answers]
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server}/nowhere").status_code == 404
    wrong_method = httpx.get(server)
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_a_full_queue_answers_503_with_retry_after(tagger, trained_model_dir):
    gated = GatedTagger(tagger.tag, hold=True)
    app = create_app(gated, settings(trained_model_dir, max_batch_size=1, max_queue=1))
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(client.post, "/", json={"inputs": "Zürich"})
            assert gated.entered.wait(10)
            waiting = pool.submit(client.post, "/", json={"inputs": "Bern"})
            for _ in range(500):
                if app.state.batcher.pending == 1:
                    break
                time.sleep(0.01)
            refused = client.post("/", json={"inputs": "Genf"})
            gated.release.set()
            assert running.result().status_code == waiting.result().status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert "1 requests are waiting" in refused.json()["error"]


def test_a_model_failure_is_500_for_that_request_only(tagger, trained_model_dir, caplog):
    gated = GatedTagger(tagger.tag, fail_on="BOOM")
    app = create_app(gated, settings(trained_model_dir))
    caplog.set_level(logging.INFO, logger="swiss_ner.serving")
    with serving(app) as url:
        failed = httpx.post(url, json={"inputs": "BOOM goes the model"})
        served = httpx.post(url, json={"inputs": "Roger Federer vive a Lugano."})
    assert failed.status_code == 500
    assert failed.json() == {"error": "tagging failed: RuntimeError: the model broke"}
    assert served.status_code == 200
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("POST / 500 texts=1 ") for line in lines)
    assert any(line.startswith("POST / 200 texts=1 ") and line.endswith(" ms") for line in lines)
    assert not any("Federer" in line or "BOOM" in line for line in lines)


def test_texts_are_logged_only_with_log_texts(tagger, trained_model_dir, caplog):
    app = create_app(tagger.tag, settings(trained_model_dir, log_texts=True))
    caplog.set_level(logging.INFO, logger="swiss_ner.serving")
    with serving(app) as url:
        assert httpx.post(url, json={"inputs": "Roger Federer"}).status_code == 200
    assert any('inputs=["Roger Federer"]' in record.getMessage() for record in caplog.records)


def test_the_api_key_is_checked(tagger, trained_model_dir):
    app = create_app(tagger.tag, settings(trained_model_dir, api_key="s3cret"))
    body = {"inputs": "Roger Federer vive a Lugano."}
    with serving(app) as url:
        missing = httpx.post(url, json=body)
        wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer s3cre"})
        right = httpx.post(url, json=body, headers={"Authorization": "Bearer s3cret"})
        health = httpx.get(f"{url}/health")
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert "API key" in refused.json()["error"]
    assert right.status_code == 200 and health.status_code == 200
