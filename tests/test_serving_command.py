"""``swiss-ner serve`` as users run it: its options, a taken port, and SIGTERM while requests
are in flight (a real subprocess: every accepted request is answered, the exit status is 0)."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import PANX_DIR

from swiss_ner import cli
from swiss_ner.config import API_KEY_ENV, ConfigError, ServeConfig
from swiss_ner.data import read_iob2


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"port": 65536}, "--port"),
        ({"port": -1}, "--port"),
        ({"max_batch_size": 0}, "--max-batch-size"),
        ({"max_queue": 0}, "--max-queue"),
        ({"max_batch_wait_ms": -1.0}, "--max-batch-wait-ms"),
        ({"max_body_bytes": 0}, "--max-body-bytes"),
        ({"api_key": "  "}, "--api-key"),
        ({"model": None}, "--model"),
    ],
)
def test_options_that_cannot_work_are_refused(overrides, names, monkeypatch):
    monkeypatch.delenv("SWISS_NER_MODEL", raising=False)
    values = {"model": "outputs/m", **overrides}
    with pytest.raises(ConfigError, match=names):
        ServeConfig(**values).validate()


def test_the_defaults_listen_on_localhost_and_read_the_key_from_the_environment(monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    config = ServeConfig(model="m")
    assert (config.host, config.port, config.api_key) == ("127.0.0.1", 8080, "from-env")
    assert ServeConfig(model="m", api_key="given").api_key == "given"
    monkeypatch.delenv(API_KEY_ENV)
    assert ServeConfig(model="m").api_key is None


def test_help_never_shows_the_key_and_a_bad_port_exits_2(monkeypatch, capsys):
    monkeypatch.setenv(API_KEY_ENV, "top-secret-key")
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    assert "top-secret-key" not in capsys.readouterr().out
    assert cli.main(["serve", "--model", "m", "--port", "99999"]) == 2
    assert "--port must lie in 0..65535" in capsys.readouterr().err


def test_a_taken_port_is_one_line_before_the_model_loads(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = cli.main(["serve", "--model", "no/such-model", "--port", str(port)])
    assert status == 1
    assert f"cannot listen on 127.0.0.1:{port} (--host, --port)" in capsys.readouterr().err


def test_the_rest_of_the_package_never_imports_the_server():
    code = ("import sys, swiss_ner.cli, swiss_ner.config, swiss_ner.inference; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'fastapi') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def start_server(model_dir, *options: str) -> tuple[subprocess.Popen, queue.Queue, str]:
    """``swiss-ner serve`` on a free port; returns the process, its output lines and its URL."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "swiss_ner.cli", "serve", "--model", str(model_dir),
         "--port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert process.poll() is None, "swiss-ner serve exited before serving"
            continue
        if line.startswith("serving "):
            return process, lines, line.split(" on ")[1].split()[0]
    process.kill()
    raise AssertionError("swiss-ner serve did not start within 120 s")


def wait_for_line(lines: queue.Queue, text: str, seconds: float = 30) -> list[str]:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with_timeout = max(deadline - time.monotonic(), 0.01)
        try:
            seen.append(lines.get(timeout=with_timeout))
        except queue.Empty:
            break
        if text in seen[-1]:
            return seen
    raise AssertionError(f"no line with {text!r} in {seen}")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux)."""
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir() for child in
            (task / "children").read_text().split()]


def model_process(pid: int) -> int:
    """The server's child that holds the model (the other is multiprocessing's tracker)."""
    for child in children(pid):
        if "libtorch" in Path(f"/proc/{child}/maps").read_text():
            return child
    raise AssertionError(f"no child of {pid} has loaded torch")


def exited(pid: int) -> bool:
    """Gone, or a zombie that only waits to be reaped."""
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")


@needs_proc
def test_the_model_runs_in_a_child_that_ends_with_the_server(trained_model_dir):
    process, _, url = start_server(trained_model_dir)
    try:
        assert httpx.post(url, json={"inputs": "Grüezi aus Bern."}, timeout=30).status_code == 200
        assert "libtorch" not in Path(f"/proc/{process.pid}/maps").read_text()
        child = model_process(process.pid)
        process.kill()  # no chance to clean up: the child must notice the closed pipe
        process.wait(30)
        deadline = time.monotonic() + 30
        while not exited(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exited(child)
    finally:
        if process.poll() is None:
            process.kill()


@needs_proc
def test_sigterm_answers_the_requests_in_flight_and_exits_0(trained_model_dir):
    sentences = [" ".join(words) for words in
                 read_iob2(PANX_DIR / "validation-de.tsv", "de")["tokens"][:300]]
    process, lines, url = start_server(trained_model_dir, "--max-batch-size", "1")
    try:
        finished: dict[int, float] = {}

        def post(number: int) -> httpx.Response:
            response = httpx.post(url, json={"inputs": sentences}, timeout=120)
            finished[number] = time.monotonic()
            return response

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(post, number) for number in range(6)]
            while not finished:  # the first answer: every request has long been sent by now
                time.sleep(0.005)
            # As systemd stops a service: every process of it gets SIGTERM, the model's too.
            for pid in [process.pid, *children(process.pid)]:
                os.kill(pid, signal.SIGTERM)
            wait_for_line(lines, "Shutting down")
            stopping = time.monotonic()
            with pytest.raises(httpx.TransportError):
                httpx.post(url, json={"inputs": "too late"}, timeout=5)
            responses = [future.result() for future in futures]
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert [response.status_code for response in responses] == [200] * 6
    assert all(len(response.json()) == len(sentences) for response in responses)
    assert any(moment > stopping for moment in finished.values()), "nothing was in flight"
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert rest[-1].strip() == "stopped"


@pytest.mark.parametrize(("given", "expected"), [(None, "false"), ("true", "true")])
def test_the_model_process_tokenizes_without_a_pool_unless_told(
    trained_model_dir, monkeypatch, given, expected
):
    from swiss_ner.commands.serve import load_tagger

    if given is None:
        monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    else:
        monkeypatch.setenv("TOKENIZERS_PARALLELISM", given)
    tagger = load_tagger(ServeConfig(model=str(trained_model_dir)))
    assert os.environ["TOKENIZERS_PARALLELISM"] == expected
    assert len(tagger.tag(["Grüezi aus Bern.", "Ciao."])) == 2
