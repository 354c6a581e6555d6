"""Load on `swiss-ner serve`: requests/s and latency at 1, 8, 32 and 128 concurrent clients, with
dynamic batching and with `--max-batch-size 1` (batching off), side by side in one run.

Each mode starts its own server as a subprocess on a free 127.0.0.1 port. Every client is an
asyncio loop over one aiohttp keep-alive connection (aiohttp costs the shared cores far less
per request than httpx) that sends a fixed number of requests, one PAN-X
validation sentence (de/fr/it/en, tokens joined by spaces) per request, and waits for each
answer before the next. Per mode and client count it reports requests/s, sentences/s (answered
with 200), p50/p95/p99 latency, errors by status and the server's peak resident memory
(VmHWM, reset before each level); then the ratios the targets are stated in, taken within
each round (``--rounds``, the modes in alternating order) and given as medians over rounds.
The table is printed and appended to bench/RESULTS.md with the command line. This is a
benchmark, not a test: run it on a quiet machine, since the clients share the cores with the
server.

    python bench/serve_load.py --model outputs/small-panx-ch
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import harness
from harness import PROJECT_ROOT

LANGS = ("de", "fr", "it", "en")
MODES = {"batched": [], "unbatched": ["--max-batch-size", "1"]}
WARMUP_REQUESTS = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="model folder (or Hub repo id) to serve")
    parser.add_argument("--data-dir", default=str(harness.DATA_DIR),
                        help="folder with validation-{lang}.tsv (default: ../shared/data/panx)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 128],
                        help="concurrent client counts to run (default: 1 8 32 128)")
    parser.add_argument("--requests-per-client", type=int, default=50,
                        help="requests each client sends at each level (default: 50)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES),
                        help="batching on (the server's defaults) and off (--max-batch-size 1)")
    parser.add_argument("--server-args", default="",
                        help="extra `swiss-ner serve` options for both modes, e.g. "
                             "'--max-batch-wait-ms 5 --quantize'")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of both modes, in alternating order; ratios are medians "
                             "over rounds, with their range (default 1)")
    harness.add_results_options(parser)
    harness.add_child_options(parser)
    args = parser.parse_args(argv)
    if args.requests_per_client < 1 or min(args.clients) < 1 or args.rounds < 1:
        parser.error("--clients, --requests-per-client and --rounds must be at least 1")
    return args


def load_sentences(data_dir: str, count: int) -> list[str]:
    """Raw-text validation sentences, the four languages interleaved, at least ``count``."""
    from swiss_ner.data import read_iob2

    per_lang = [
        [" ".join(words) for words in read_iob2(Path(data_dir) / f"validation-{lang}.tsv",
                                                 lang)["tokens"]]
        for lang in LANGS
    ]
    mixed = [text for group in zip(*per_lang, strict=False) for text in group]
    if not mixed:
        raise SystemExit(f"no validation sentences in {data_dir}; pass --data-dir")
    return (mixed * (count // len(mixed) + 1))[:count]


def model_floor(args: argparse.Namespace) -> dict:
    """In a child, the tagger as the server's model process loads it (with ``--server-args``;
    its windows per pass, torch's threads, the main thread): median milliseconds of
    ``NerTagger.tag`` on 1 and on 32 sentences. A batch of 32 cannot be answered faster than
    its 32-sentence call."""
    from swiss_ner.cli import build_parser
    from swiss_ner.commands.serve import load_tagger
    from swiss_ner.config import ServeConfig, config_from_namespace

    options = build_parser().parse_args(
        ["serve", "--model", args.model, *shlex.split(args.server_args)]
    )
    tagger = load_tagger(config_from_namespace(ServeConfig, options))
    sentences = load_sentences(args.data_dir, 32 * 41)
    tagger.tag(sentences[:32])
    result = {"1": _median_ms(tagger, sentences, 1, 200)}
    # The arithmetic is read only where the model is plain float32 torch.
    plain = (tagger.backend == "torch" and tagger.dtype == "float32" and not tagger.compiled
             and not tagger.quantized)
    with harness.timed_forward(tagger) if plain else contextlib.nullcontext() as forward:
        started = time.perf_counter()
        result["32"] = _median_ms(tagger, sentences, 32, 40)
        seconds = time.perf_counter() - started
    if plain:
        result["arithmetic"] = harness.arithmetic_line(
            "the model alone, 32 sentences", forward, seconds,
            tagger, harness.matmul_rate())
    return result


def _median_ms(tagger, sentences: list[str], size: int, calls: int) -> float:
    """Median milliseconds of ``tagger.tag`` on ``calls`` consecutive slices of ``size``."""
    times = []
    for call in range(calls):
        started = time.perf_counter()
        tagger.tag(sentences[call * size : (call + 1) * size])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model: str, options: list[str], log) -> tuple[subprocess.Popen, str]:
    """`swiss-ner serve` in its own process; returns it and its URL once it serves."""
    port = free_port()
    command = [sys.executable, "-m", "swiss_ner.cli", "serve", "--model", model,
               "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the server exited with {process.returncode}:\n{log.read()}")
        if b"serving " in Path(log.name).read_bytes():
            return process, url
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 180 s")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the server runs its model in a child process)."""
    tree, index = [pid], 0
    while index < len(tree):
        for task in Path(f"/proc/{tree[index]}/task").iterdir():
            tree.extend(int(child) for child in (task / "children").read_text().split())
        index += 1
    return tree


def peak_rss_mib(pid: int) -> float:
    """The server's peak resident memory: the sum of VmHWM over its processes."""
    total = 0
    for member in process_tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def reset_peak_rss(pid: int) -> None:
    """Let VmHWM start again from the current RSS (Linux: write 5 to clear_refs)."""
    for member in process_tree(pid):
        Path(f"/proc/{member}/clear_refs").write_text("5")


async def post(session, url: str, text: str) -> int:
    async with session.post(url, json={"inputs": text}) as response:
        await response.read()
        return response.status


async def client_loop(session, url: str, texts: list[str], latencies: list[float],
                      statuses: Counter) -> None:
    for text in texts:
        started = time.perf_counter()
        try:
            status = await post(session, url, text)
            statuses[status] += 1
            if status == 200:
                latencies.append(time.perf_counter() - started)
        except Exception as error:  # a lost request is a result too, counted by kind
            statuses[type(error).__name__] += 1


async def run_level(url: str, sentences: list[str], clients: int, per_client: int) -> dict:
    """``clients`` loops of ``per_client`` requests each; wall time, latencies, statuses."""
    import aiohttp

    latencies: list[float] = []
    statuses: Counter = Counter()
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        warmup = sentences[:min(WARMUP_REQUESTS, 4 * clients)]
        await asyncio.gather(*(post(session, url, text) for text in warmup))
        started = time.perf_counter()
        await asyncio.gather(*(
            client_loop(session, url, sentences[n * per_client:(n + 1) * per_client],
                        latencies, statuses)
            for n in range(clients)
        ))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": sorted(latencies), "statuses": statuses}


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list, in milliseconds."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank] * 1000


def summarise(mode: str, clients: int, level: dict, rss: float) -> dict:
    answered = level["statuses"].get(200, 0)
    total = sum(level["statuses"].values())
    errors = {str(k): v for k, v in level["statuses"].items() if k != 200}
    return {
        "mode": mode, "clients": clients, "requests": total,
        "rps": total / level["elapsed"], "sps": answered / level["elapsed"],
        "p50": percentile(level["latencies"], 0.50), "p95": percentile(level["latencies"], 0.95),
        "p99": percentile(level["latencies"], 0.99), "errors": errors, "rss": rss,
        "steal": level["steal"],
    }


def measure_mode(args: argparse.Namespace, mode: str, sentences: list[str]) -> list[dict]:
    options = MODES[mode] + shlex.split(args.server_args)
    rows = []
    with tempfile.NamedTemporaryFile("w+b", suffix=".log") as log:
        process, url = start_server(args.model, options, log)
        try:
            for clients in args.clients:
                reset_peak_rss(process.pid)
                ticks = harness.cpu_ticks()
                level = asyncio.run(run_level(url, sentences, clients, args.requests_per_client))
                level["steal"] = harness.stolen_percent(ticks, harness.cpu_ticks())
                if not level["latencies"]:
                    raise SystemExit(f"{mode}, {clients} clients: no request was answered with "
                                     f"200 ({dict(level['statuses'])}); see the server's log")
                rows.append(summarise(mode, clients, level, peak_rss_mib(process.pid)))
                print(f"  {mode:9s} {clients:4d} clients: {rows[-1]['rps']:8.1f} requests/s, "
                      f"p99 {rows[-1]['p99']:.1f} ms", flush=True)
        finally:
            process.terminate()
            status = process.wait(120)
    if status != 0:
        raise SystemExit(f"the {mode} server exited with {status} on SIGTERM; see its log")
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| round | mode | clients | requests | requests/s | sentences/s | p50 ms | p95 ms "
             "| p99 ms | errors by status | peak RSS MiB | host steal % |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for row in sorted(rows, key=lambda row: (row["round"], row["mode"], row["clients"])):
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(row["errors"].items())) or "none"
        lines.append(
            f"| {row['round']} | {row['mode']} | {row['clients']} | {row['requests']} "
            f"| {row['rps']:.1f} "
            f"| {row['sps']:.1f} | {row['p50']:.1f} | {row['p95']:.1f} | {row['p99']:.1f} "
            f"| {errors} | {row['rss']:.0f} | {row['steal']:.1f} |"
        )
    return "\n".join(lines)


def ratios(rows: list[dict], floor: dict | None) -> str:
    """The targets' ratios, each taken within a round, then their median over rounds (with
    the range), so that the drift of a shared machine between rounds cancels."""
    by = {(row["round"], row["mode"], row["clients"]): row for row in rows}
    rounds = sorted({row["round"] for row in rows})
    lines = []
    for clients in sorted({row["clients"] for row in rows}):
        pairs = [(by.get((r, "batched", clients)), by.get((r, "unbatched", clients)))
                 for r in rounds]
        if all(on and off for on, off in pairs):
            lines.append(f"- {clients} clients: batching on gives "
                         f"**{_spread([on['rps'] / off['rps'] for on, off in pairs], 2)}×** "
                         "the requests/s of batching off")
    pairs = [(by.get((r, "batched", 1)), by.get((r, "batched", 32))) for r in rounds]
    if all(single and loaded for single, loaded in pairs):
        times = "; ".join(f"{loaded['p99']:.1f} ms / {single['p50']:.1f} ms"
                          for single, loaded in pairs)
        lines.append(f"- batching on, p99 at 32 clients / p50 at 1 client: "
                     f"**{_spread([lo['p99'] / si['p50'] for si, lo in pairs], 1)}×** ({times})")
    if floor:
        lines.append(f"- the model alone (`NerTagger.tag` as the server loads it, on the main "
                     f"thread): {floor['32']:.1f} ms for 32 sentences, {floor['1']:.1f} ms for one "
                     f"(**{floor['32'] / floor['1']:.1f}×**), the least a batch of 32 can cost "
                     "against a lone request")
        lines += [f"- {floor['arithmetic']}"] if "arithmetic" in floor else []
    lines.append(f"- peak server RSS: {max(row['rss'] for row in rows):.0f} MiB")
    return "\n".join(lines)


def _spread(values: list[float], digits: int) -> str:
    """The median of per-round values, with their range when there were several rounds."""
    median = f"{statistics.median(values):.{digits}f}"
    if len(values) == 1:
        return median
    return f"{median} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        harness.write_child_result(args, model_floor(args))
        return 0
    sentences = load_sentences(args.data_dir, max(args.clients) * args.requests_per_client)
    floor = harness.run_child(__file__, ["--model", args.model, "--data-dir", args.data_dir,
                                         f"--server-args={args.server_args}"],
                              "floor", env={"HF_HUB_OFFLINE": "1"})
    if "failed" in floor:
        raise SystemExit(f"timing the model alone failed: {floor['failed']}")
    rows = []
    for number in range(1, args.rounds + 1):
        order = args.modes if number % 2 else list(reversed(args.modes))
        for mode in order:
            print(f"round {number}/{args.rounds}: {mode}", flush=True)
            rows.extend({**row, "round": number} for row in measure_mode(args, mode, sentences))
    markdown = f"{table(rows)}\n\n{ratios(rows, floor)}"
    libraries = ("torch", "transformers", "starlette", "uvicorn", "uvloop", "httptools",
                 "aiohttp")
    details = [harness.machine_description(None, libraries=libraries),
               "One sentence per request; each client waits for its answer before it sends the "
               "next; clients and server share the machine. Host steal: the share of the "
               "machine's CPU time its hypervisor gave to others during that level."]  # fmt: skip
    command = list(sys.argv[1:] if argv is None else argv)
    harness.publish(args, "Serving under load", __file__, command, details, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
