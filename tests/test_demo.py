"""The Gradio demo: a clear error without gradio, and the page in a real (headless) browser.

The browser test starts ``swiss-ner demo`` on the tiny trained model, types a German sentence
into the page with Chromium, then clicks one of the card's example sentences, and checks each
time that the entities the stock pipeline finds are the highlighted spans, with their labels.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_LIMIT_S = 300
SENTENCES_TO_TRY = 50


def test_without_gradio_the_demo_says_how_to_install_it():
    script = "import sys; sys.modules['gradio'] = None; import swiss_ner.demo"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert "ImportError: the demo needs gradio: pip install 'swiss-ner[demo]'" in done.stderr


def test_training_and_tagging_do_not_import_gradio():
    script = (
        "import sys, swiss_ner.cli, swiss_ner.hub, swiss_ner.space, swiss_ner.training, "
        "swiss_ner.widget; "
        "sys.exit('gradio' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == 0


def panx_sentences(panx_dir: Path, limit: int) -> Iterator[str]:
    """German PAN-X validation sentences that hold an entity, tokens joined by spaces."""
    tokens, tags = [], []
    lines = (panx_dir / "validation-de.tsv").read_text(encoding="utf-8").splitlines()
    for line in [*lines, ""]:
        if line.strip():
            token, tag = line.split("\t")
            tokens.append(token)
            tags.append(tag)
            continue
        if any(tag != "O" for tag in tags) and limit > 0:
            limit -= 1
            yield " ".join(tokens)
        tokens, tags = [], []


def shown_entities(ner, text: str) -> list[tuple[str, str]]:
    """The ``(span, label)`` pairs the page should highlight: the stock pipeline's groups."""
    return [(text[g["start"] : g["end"]], g["entity_group"]) for g in ner(text)]


@pytest.fixture(scope="module")
def ner(trained_model_dir):
    from transformers import pipeline

    return pipeline(
        "token-classification", model=str(trained_model_dir), aggregation_strategy="simple"
    )


@pytest.fixture(scope="module")
def typed_sentence(ner, panx_dir) -> tuple[str, list[tuple[str, str]]]:
    """A German sentence in which the tiny model finds entities, and those entities."""
    from swiss_ner.widget import WIDGET_EXAMPLES

    for sentence in [WIDGET_EXAMPLES["de"], *panx_sentences(panx_dir, SENTENCES_TO_TRY)]:
        if expected := shown_entities(ner, sentence):
            return sentence, expected
    pytest.fail("the tiny trained model finds no entity in any German sentence tried")


@pytest.fixture(scope="module")
def card_example(ner, trained_model_dir) -> tuple[str, list[tuple[str, str]]]:
    """A widget sentence of the model's card in which the model finds entities, and those."""
    for entry in ModelCard.load(trained_model_dir / "README.md").data.widget:
        if expected := shown_entities(ner, entry["text"]):
            return entry["text"], expected
    pytest.fail("the tiny trained model finds no entity in any widget sentence of its card")


def test_examples_are_the_widget_sentences_of_the_card(trained_model_dir, tmp_path):
    demo = pytest.importorskip(
        "swiss_ner.demo", reason="the demo needs gradio", exc_type=ImportError
    )
    widget = ModelCard.load(trained_model_dir / "README.md").data.widget
    assert demo.card_examples(str(trained_model_dir)) == [entry["text"] for entry in widget]
    assert demo.card_examples(str(tmp_path)) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_LIMIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the demo exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the demo did not answer at {url}:\n{log.read_text()}")


@pytest.fixture
def demo_url(trained_model_dir, tmp_path) -> Iterator[str]:
    """``swiss-ner demo`` on the tiny model, in a child process on a free local port."""
    pytest.importorskip("gradio", reason="the demo needs gradio: pip install 'swiss-ner[demo]'")
    port = free_port()
    command = [sys.executable, "-m", "swiss_ner.cli", "demo", "--model", str(trained_model_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tmp_path / "demo.log"
    with log.open("w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, server, log)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def highlighted(page, sync_api, count: int) -> list[tuple[str | None, str | None]]:
    """The ``(text, label)`` of each highlighted span, once ``count`` of them are shown."""
    spans = page.locator("#entities .token.highlighted")
    sync_api.expect(spans).to_have_count(count, timeout=60_000)
    return [
        (span.locator(".text").text_content(), span.locator(".label").text_content())
        for span in spans.all()
    ]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_page_highlights_the_entities_the_model_finds(demo_url, typed_sentence, card_example):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(demo_url)
            page.get_by_label("Text").fill(typed_sentence[0])
            page.get_by_role("button", name="Find entities").click()
            typed = highlighted(page, sync_api, len(typed_sentence[1]))
            page.reload()
            page.get_by_text(card_example[0][:30]).click()
            sync_api.expect(page.get_by_label("Text")).to_have_value(card_example[0])
            clicked = highlighted(page, sync_api, len(card_example[1]))
        finally:
            browser.close()
    assert typed == typed_sentence[1]
    assert clicked == card_example[1]


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["--model", "/nonexistent"], 1, "model folder '/nonexistent' does not exist"),
    (["--port", "99999"], 2, "--port must lie in 1-65535, got 99999"),
    (["--host", "999.1.1.1"], 1, "--host '999.1.1.1' cannot be resolved"),
])
def test_a_bad_model_port_or_host_fails_in_one_line_naming_it(
    small_model_dir, capsys, argv, status, message
):
    from swiss_ner.cli import main

    assert main(["demo", "--model", str(small_model_dir), *argv]) == status
    error = capsys.readouterr().err.strip()
    assert error.startswith("swiss-ner: error: ") and message in error
    assert "\n" not in error and "Traceback" not in error


def test_a_port_in_use_is_named_before_gradio_starts():
    from swiss_ner.commands.demo import check_address

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve on --host 127.0.0.1 --port {port}: "):
            check_address("127.0.0.1", port)
    check_address("127.0.0.1", 0)
