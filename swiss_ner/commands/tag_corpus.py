"""``swiss-ner tag-corpus``: tag a corpus of files into a folder of Parquet (or JSONL) shards,
with a progress bar and one summary line; under ``accelerate launch`` each process takes its
share of the shards."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from swiss_ner.config import CorpusConfig


def build_job(config: CorpusConfig):
    """Scan the inputs (malformed files stop here, before any output) into a Job."""
    from swiss_ner.corpus.job import Job
    from swiss_ner.corpus.sources import scan_inputs

    files = scan_inputs(config.inputs, config.text_column, config.id_column)
    return Job(
        files=files,
        output=Path(config.output),
        model=config.model,
        fmt=config.format,
        text_column=config.text_column,
        id_column=config.id_column,
        shard_size=config.shard_size,
        chunk_size=config.chunk_size,
        tagger_options={
            "batch_size": config.batch_size, "quantize": config.quantize, "dtype": config.dtype,
            "compile": config.compile,
        },
    )


def load_tagger(job, device):
    """The tagger of ``job``: its model with the options its manifest records."""
    from transformers.utils import logging as transformers_logging

    from swiss_ner.inference import NerTagger

    transformers_logging.disable_progress_bar()
    tagger = NerTagger.from_pretrained(job.model, device=device, **job.tagger_options)
    tagger.warm_up()  # first calls are slow (compiling, with --compile); part of loading
    return tagger


def summary_line(summary: dict, seconds: float, tagged: int) -> str:
    """``N documents, ENTITIES (PER n, ...), E error rows, T s, R documents/s``; a rerun of a
    finished job says so instead of reporting a rate of zero."""
    types = ", ".join(f"{name} {count:,}" for name, count in summary["entities"].items())
    entities = sum(summary["entities"].values())
    line = (f"{_count(summary['documents'], 'document')}, "
            f"{_count(entities, 'entity', 'entities')} ({types or 'none'}), "
            f"{_count(summary['errors'], 'error row')}")
    if tagged == 0 and summary["documents"]:
        return f"{line}; the folder was complete already, nothing tagged (--overwrite starts over)"
    rate = tagged / seconds if seconds > 0 else 0.0
    return f"{line}; tagged {tagged:,} in this run in {seconds:.1f} s, {rate:.1f} documents/s"


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number:,} {one if number == 1 else many or one + 's'}"


def run_local(config: CorpusConfig, job) -> int:
    """Tag this process's shards; the main process prints the bar and the summary."""
    import torch
    from accelerate import PartialState
    from tqdm.auto import tqdm

    from swiss_ner.corpus import local
    from swiss_ner.corpus.shards import read_manifest, summarize, write_manifest

    local.map_large_blocks()
    cpu = config.device == "cpu" or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)
    if cpu:
        torch.set_num_threads(config.num_threads or local.cpu_threads(state.num_processes))
    pending = local.start(job, state, config.overwrite)
    shards = local.my_shards(job, state)
    todo = sum(job.rows_of(shard)[1] - job.rows_of(shard)[0] for shard in shards)
    tagger = load_tagger(job, config.device or ("cpu" if cpu else state.device))
    # The readers and the writer import and set up in seconds; like the model, that is
    # start-up, not time per document, and the clock of the summary line starts after it.
    import pyarrow.parquet  # noqa: F401

    from swiss_ner.corpus.sources import prepare_readers

    prepare_readers(job.files, job.text_column, job.id_column)

    started = time.perf_counter()
    share = f" (process 0's share of {state.num_processes})" if state.num_processes > 1 else ""
    with tqdm(total=todo, unit="doc", desc=f"tagging{share}", file=sys.stderr, dynamic_ncols=True,
              disable=not (config.progress and state.is_main_process)) as bar:
        local.tag_shards(job, shards, tagger, lambda records: bar.update(len(records)))
    state.wait_for_everyone()
    seconds = time.perf_counter() - started
    if state.is_main_process:
        manifest = read_manifest(job.output)
        write_manifest(job.output, {**manifest, "complete": True})
        summary = summarize(job.output, job.fmt, job.id_column is not None)
        print(summary_line(summary, seconds, pending))
    return 0


def run_ray(config: CorpusConfig, job) -> int:
    from swiss_ner.corpus.ray_engine import tag_with_ray
    from swiss_ner.corpus.shards import summarize

    started = time.perf_counter()
    tagged = tag_with_ray(job, config)
    seconds = time.perf_counter() - started
    summary = summarize(job.output, job.fmt, job.id_column is not None)
    print(summary_line(summary, seconds, tagged))
    return 0


def run(config: CorpusConfig) -> int:
    """The ``swiss-ner tag-corpus`` command."""
    job = build_job(config)
    if config.engine == "ray":
        return run_ray(config, job)
    return run_local(config, job)
