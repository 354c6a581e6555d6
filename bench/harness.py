"""What the bench scripts share, so each of them holds only what it measures.

- One child-process protocol: the parent runs ``python SCRIPT ... --child VARIANT --child-out
  FILE``; the child measures one variant alone in its fresh process and writes a JSON object
  to FILE. The parent reads it and adds the child's peak resident memory, which it takes from
  the operating system when the child ends (``os.wait4``), so the child need not report it.
- Rounds: every variant once per round, every second round in reverse order, so that a machine
  drifting slower or faster favours none; medians, ranges, and ratios taken within each round.
  Or turns: every variant in a child that stays up, the children running in turn, with no
  process start-ups between the runs compared (``take_turns``).
- Timing a call (waiting for the GPU), and the ``TrainConfig`` the training benchmarks share.
- The machine description (CPU model, cores, torch threads, device, library versions) and the
  titled, dated section with the command line that is printed and appended to
  ``bench/RESULTS.md``.

The scripts run as ``python bench/NAME.py``, so ``bench/`` is on ``sys.path`` and they
``import harness``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "bench" / "RESULTS.md"
DATA_DIR = PROJECT_ROOT.parent / "shared" / "data" / "panx"
RESULTS_HEADING = "# Benchmark results\n\nAppended by the scripts in bench/, one section per run.\n"


def add_child_options(parser: argparse.ArgumentParser) -> None:
    """The hidden options by which :func:`run_child` tells a child what to measure."""
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", default=None, help=argparse.SUPPRESS)


def write_child_result(args: argparse.Namespace, result: dict) -> None:
    """In the child: hand the measurements back to the parent."""
    Path(args.child_out).write_text(json.dumps(result), encoding="utf-8")


def run_child(
    script: str, argv: Sequence[str], variant: str, env: dict[str, str] | None = None
) -> dict:
    """Run ``script`` as a child measuring ``variant``; its JSON result plus ``peak_rss_mib``.

    A child that fails gives ``{"failed": its last output line}`` (its output's tail goes to
    stderr), so that one broken variant does not lose the others' measurements.
    """
    with tempfile.TemporaryDirectory() as folder:
        out, log = Path(folder) / "result.json", Path(folder) / "output.log"
        command = [sys.executable, script, *argv, "--child", variant, "--child-out", str(out)]
        with log.open("w") as handle:
            process = subprocess.Popen(
                command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
            try:
                _, status, usage = os.wait4(process.pid, 0)
            except BaseException:
                process.kill()
                process.wait()
                raise
            process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0 or not out.exists():
            output = log.read_text(encoding="utf-8", errors="replace")
            print(f"{variant} failed:\n{output[-3000:]}", file=sys.stderr, flush=True)
            lines = output.strip().splitlines()
            return {"failed": lines[-1] if lines else f"exit status {process.returncode}"}
        result = json.loads(out.read_text(encoding="utf-8"))
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def measure_rounds(
    variants: Sequence[str], rounds: int, measure: Callable[[str], dict]
) -> list[dict[str, dict]]:
    """``measure(variant)`` for each variant, ``rounds`` times; one ``{variant: result}`` per
    round. Every second round runs the variants in reverse order."""
    measured_rounds = []
    for number in range(1, rounds + 1):
        measured = {}
        for variant in variants if number % 2 else list(reversed(variants)):
            print(f"round {number}/{rounds}: measuring {variant} ...", file=sys.stderr, flush=True)
            measured[variant] = measure(variant)
            scalars = {k: v for k, v in measured[variant].items() if not isinstance(v, list)}
            print(f"{variant}: {json.dumps(scalars)}", file=sys.stderr, flush=True)
        measured_rounds.append({variant: measured[variant] for variant in variants})
    return measured_rounds


def summarise_rounds(
    rounds: list[dict[str, dict]], rate: str, references: Sequence[str]
) -> dict[str, dict]:
    """Per variant: the median of each number it measured, ``each`` (its ``rate`` in every
    round) and ``ratios`` (its ``rate`` over each reference's, within each round, so that the
    drift between rounds cancels). Other values are the last round's; a variant that failed in
    any round is its failure."""
    rows = {}
    for variant in rounds[0]:
        runs = [measured[variant] for measured in rounds]
        failed = next((run for run in runs if "failed" in run), None)
        if failed is not None:
            rows[variant] = failed
            continue
        row = dict(runs[-1])
        for key, value in runs[0].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                row[key] = statistics.median(run[key] for run in runs)
        row["each"] = [run[rate] for run in runs]
        row["ratios"] = {
            reference: [m[variant][rate] / m[reference][rate] for m in rounds]
            for reference in references
            if all(rate in m.get(reference, {}) for m in rounds)
        }
        rows[variant] = row
    return rows


def take_turns(
    commands: dict[str, list[str]], rounds: int, env: dict[str, str] | None = None
) -> dict[str, list[float]]:
    """Start each command as a child that stays up (:func:`serve_turns`), then have them run
    their work in turn, ``rounds`` times, every second round in reverse order; the seconds of
    each run per name. No process start-up lies between two runs whose rates are compared."""
    names = list(commands)
    with contextlib.ExitStack() as stack:
        children = {name: stack.enter_context(subprocess.Popen(
            command, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, **(env or {})})) for name, command in commands.items()}
        for name, child in children.items():
            _reply(child, "ready", name)
        seconds: dict[str, list[float]] = {name: [] for name in names}
        for number in range(rounds):
            for name in names if number % 2 == 0 else names[::-1]:
                children[name].stdin.write("go\n")
                children[name].stdin.flush()
                seconds[name].append(float(_reply(children[name], "seconds ", name)))
    return seconds  # leaving the stack closes each child's stdin, and the child exits


def serve_turns(work: Callable[[], object], before: Callable[[], object] = lambda: None) -> None:
    """In a child of :func:`take_turns`: say ready, then for every ``go`` on stdin run
    ``before()`` (untimed) and ``work()`` and print its seconds, until stdin closes."""
    print("ready", flush=True)
    for _ in sys.stdin:
        before()
        started = time.perf_counter()
        work()
        print(f"seconds {time.perf_counter() - started}", flush=True)


def _reply(child: subprocess.Popen, prefix: str, name: str) -> str:
    """The rest of the child's next stdout line that starts with ``prefix`` (other output,
    such as a library's, is skipped)."""
    for line in child.stdout:
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    sys.exit(f"the resident {name} child exited with status {child.wait()}")


def with_range(values: Sequence[float], form: str) -> str:
    """The median, and where the values differ their range: ``'285 (270–291)'``."""
    text = form.format(statistics.median(values))
    if min(values) != max(values):
        text += f" ({form.format(min(values))}–{form.format(max(values))})"
    return text


def seconds_per_call(
    work: Callable[[], object], device: str = "cpu", repeats: int = 1, warmups: int = 0
) -> float:
    """Mean seconds of ``work()`` over ``repeats`` calls after ``warmups`` untimed ones,
    waiting for the GPU to finish its queued work before each clock reading."""
    if device.startswith("cuda"):
        import torch

        synchronize = torch.cuda.synchronize
    else:

        def synchronize() -> None:
            """The CPU has no queue to wait for."""
    for _ in range(warmups):
        work()
    synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    synchronize()
    return (time.perf_counter() - start) / repeats


def matmul_rate(device: str = "cpu", dtype=None) -> float:
    """FLOP/s of one large square matmul on ``device`` (torch's threads as set): the rate the
    model's Linear layers are held against."""
    import torch

    size, repeats = (8192, 20) if device == "cuda" else (1024, 10)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    return 2 * size**3 / seconds_per_call(lambda: a @ b, device, repeats, 2)


def model_size(config) -> dict:
    """Parameters of a BERT-style model's body (its layers and classifier) and in all, with
    its depth and width, from its config. A forward pass costs about twice the body's
    parameters in FLOPs per input position, a training step six times."""
    d, layers, ff = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    body = layers * (4 * d * d + 2 * d * ff + 9 * d + ff) + 7 * d + 7
    embeddings = (config.vocab_size + config.max_position_embeddings + 2) * d
    return {"non_embedding": body, "total": body + embeddings, "layers": layers, "hidden": d}


@contextlib.contextmanager
def timed_forward(tagger) -> Iterator[dict]:
    """While inside, the tagger's forward passes (``NerTagger.read_logits``) add their seconds,
    input positions (padding included) and read positions to the yielded dict, so a run can
    say how much of it was the model's arithmetic."""
    measured = {"seconds": 0.0, "positions": 0, "reads": 0}
    forward = tagger.read_logits

    def timed(inputs, read):
        started = time.perf_counter()
        output = forward(inputs, read)
        measured["seconds"] += time.perf_counter() - started
        measured["positions"] += inputs["input_ids"].numel()
        measured["reads"] += read.rows.numel()
        return output

    tagger.read_logits = timed
    try:
        yield measured
    finally:
        del tagger.read_logits


def forward_flops(config, measured: dict, reads_selected: bool) -> float:
    """FLOPs of the measured forward passes: two per body parameter and input position, except
    that a tagger reading selected positions runs its last layer, keys and values aside, and
    its classifier at the read positions only."""
    d, ff = config.hidden_size, config.intermediate_size
    body = model_size(config)["non_embedding"]
    tail = 2 * d * d + 2 * d * ff + 7 * d + ff + 7 if reads_selected else 0
    return 2 * ((body - tail) * measured["positions"] + tail * measured["reads"])


def arithmetic_line(name: str, measured: dict, call_seconds: float, tagger, rate: float) -> str:
    """``name``'s forward passes (of ``tagger``'s model) as a share of its time, and
    their arithmetic (:func:`forward_flops`) over all of their time (attention, activations,
    norms and copies included) against :func:`matmul_rate`: the headroom that faster kernels
    could still take."""
    flops = forward_flops(tagger.model.config, measured, tagger.reads_selected)
    achieved = flops / measured["seconds"]
    return (f"{name}: the forward passes took {100 * measured['seconds'] / call_seconds:.0f}% "
            f"of the time and did their layers' arithmetic at {achieved / 1e9:.0f} GFLOP/s "
            f"over all of their time, {100 * achieved / rate:.0f}% of what one 1024×1024 "
            f"float32 matmul reaches here ({rate / 1e9:.0f} GFLOP/s)")


def train_config(model: str, data_dir: str, output_dir: str, **fields):
    """A ``TrainConfig`` for timing our loop: German, scored on one validation sentence, no
    trackers, on the CPU; ``fields`` set the rest (or override these)."""
    from swiss_ner.config import TrainConfig

    defaults = {"eval_langs": ["de"], "max_eval_samples": 1, "report_to": "none", "cpu": True}
    return TrainConfig.from_flat(
        {"model_name_or_path": model, "data_dir": data_dir, "output_dir": output_dir}
        | defaults | fields
    )


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_ticks() -> tuple[int, int] | None:
    """The machine's CPU time stolen by the hypervisor and its CPU time in all, in ticks since
    boot (``/proc/stat``); None where that file is missing."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    values = [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:]]
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


def stolen_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float:
    """The share of the machine's CPU time between two :func:`cpu_ticks` that a virtual
    machine's host took for others (its "steal"): timings taken while it is high are slowed
    by load outside the machine. NaN where it cannot be read."""
    if before is None or after is None or after[1] == before[1]:
        return float("nan")
    return 100 * (after[0] - before[0]) / (after[1] - before[1])


def machine_description(
    device: str | None = "cpu",
    threads: int | None = None,
    libraries: Sequence[str] = ("torch", "transformers"),
) -> str:
    """CPU model, cores, torch threads, device and library versions: what the numbers depend
    on. ``device=None`` for a process that runs no torch itself (it is not imported then)."""
    machine = f"machine: {cpu_model()}, {os.cpu_count()} cores"
    parts = []
    if device is not None:
        import torch

        machine += f", torch threads {threads or torch.get_num_threads()}"
        if device.startswith("cuda"):
            device = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
        parts.append(f"device: {device}")
    versions = [f"Python {platform.python_version()}"]
    versions += [f"{name} {metadata.version(name)}" for name in libraries]
    return "; ".join([machine, *parts, ", ".join(versions)])


def add_results_options(parser: argparse.ArgumentParser, *aliases: str) -> None:
    """``--results FILE`` and ``--no-append`` (also spelled as each of ``aliases``)."""
    parser.add_argument(
        "--results",
        default=str(RESULTS),
        help="markdown file the section is appended to (default: %(default)s)",
    )
    parser.add_argument(
        "--no-append",
        *aliases,
        dest="no_append",
        action="store_true",
        help="print the section only; append nothing",
    )


def section(title: str, script: str, argv: Sequence[str], details: Sequence[str], body: str) -> str:
    """A dated markdown section: ``## title, date``, the command line, the details, the body."""
    command = shlex.join(["python", f"bench/{Path(script).name}", *argv])
    bullets = "".join(f"- {line}\n" for line in [f"Command: `{command}`", *details])
    return f"## {title}, {date.today().isoformat()}\n\n{bullets}\n{body}\n"


def publish(
    args: argparse.Namespace,
    title: str,
    script: str,
    argv: Sequence[str],
    details: Sequence[str],
    body: str,
) -> None:
    """Print the run's :func:`section` and append it to ``args.results`` unless
    ``args.no_append`` (the options of :func:`add_results_options`)."""
    text = section(title, script, argv, details, body)
    print(text)
    if not args.no_append:
        append_section(text, args.results)


def append_section(text: str, path: str | Path = RESULTS) -> None:
    """Append one run's section, creating the file with its heading if needed."""
    path = Path(path)
    if not path.exists():
        path.write_text(RESULTS_HEADING, encoding="utf-8")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n{text}")
