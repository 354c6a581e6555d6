"""The Gradio demo: a clear error without gradio, and the page in a real (headless) browser.

The browser test starts the demo in its own process on the tiny trained model, types a German
sentence into the page with Chromium and checks that the entities the stock pipeline finds are
the highlighted spans, with their labels.
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


@pytest.fixture(scope="module")
def sentence_and_entities(trained_model_dir, panx_dir) -> tuple[str, list[tuple[str, str]]]:
    """A German sentence in which the tiny model finds entities, and its ``(span, label)`` list."""
    from transformers import pipeline

    from swiss_ner.widget import WIDGET_EXAMPLES

    ner = pipeline(
        "token-classification", model=str(trained_model_dir), aggregation_strategy="simple"
    )
    for sentence in [WIDGET_EXAMPLES["de"], *panx_sentences(panx_dir, SENTENCES_TO_TRY)]:
        groups = ner(sentence)
        if groups:
            return sentence, [(sentence[g["start"] : g["end"]], g["entity_group"]) for g in groups]
    pytest.fail("the tiny trained model finds no entity in any German sentence tried")


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
def demo_url(trained_model_dir, sentence_and_entities, tmp_path) -> Iterator[str]:
    """The demo, served by ``launch_demo`` in a child process on a free local port."""
    pytest.importorskip("gradio", reason="the demo needs gradio: pip install 'swiss-ner[demo]'")
    port = free_port()
    script = (
        "import sys; from swiss_ner.demo import launch_demo; "
        "launch_demo(sys.argv[1], [sys.argv[2]], host='127.0.0.1', port=int(sys.argv[3]))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tmp_path / "demo.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                str(trained_model_dir),
                sentence_and_entities[0],
                str(port),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
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
def test_the_page_highlights_the_entities_the_model_finds(demo_url, sentence_and_entities):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    sentence, expected = sentence_and_entities
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(demo_url)
            page.get_by_label("Text").fill(sentence)
            page.get_by_role("button", name="Find entities").click()
            typed = highlighted(page, sync_api, len(expected))
            page.reload()
            page.get_by_text(sentence[:30]).click()  # the sentence is also the page's example
            from_example = highlighted(page, sync_api, len(expected))
        finally:
            browser.close()
    assert typed == expected
    assert from_example == expected
