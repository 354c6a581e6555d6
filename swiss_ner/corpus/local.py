"""The local engine: one process, or several under ``accelerate launch``, each tagging its share
of the shards with its own model.

Every process reads the inputs as a stream, tags ``chunk_size`` documents per call, and writes
each chunk as it is done, so memory stays that of one chunk whatever the size of the corpus.
The same shard is always cut into the same chunks, so one process, several processes and a
resumed run write identical files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from swiss_ner.corpus.job import Job
from swiss_ner.corpus.shards import ShardWriter, prepare_folder, remove_stale_files
from swiss_ner.corpus.sources import read_rows

# The exceptions a document itself can cause in the tagger; anything else stops the run.
DOCUMENT_ERRORS = (ValueError, TypeError, IndexError)


def text_error(text: object) -> str | None:
    """Why a value cannot be tagged as a document, or None when it can."""
    if isinstance(text, str):
        return None
    return f"text is {'null' if text is None else type(text).__name__}, expected a string"


def tag_records(tagger, rows: Iterable[tuple[object, object]]) -> list[dict]:
    """Output rows ``{"id", "text", "entities", "error"}`` for ``(id, text)`` pairs, in order.

    Documents that cannot be tagged get an error instead of entities; one bad document in a
    chunk does not cost the others theirs.
    """
    records = [
        {"id": identifier, "text": text if isinstance(text, str) else None, "entities": [],
         "error": text_error(text)}
        for identifier, text in rows
    ]
    todo = [record for record in records if record["error"] is None]
    try:
        tagged = tagger.tag([record["text"] for record in todo])
    except DOCUMENT_ERRORS:
        tagged = [_tag_one(tagger, record) for record in todo]
    for record, entities in zip(todo, tagged, strict=True):
        record["entities"] = [
            {"text": e.text, "type": e.type, "score": e.score, "start": e.start, "end": e.end}
            for e in entities
        ]
    return records


def _tag_one(tagger, record: dict) -> list:
    try:
        return tagger.tag([record["text"]])[0]
    except DOCUMENT_ERRORS as error:
        record["error"] = " ".join(f"{type(error).__name__}: {error}".split())
        return []


# glibc's mallopt parameter, and the size from which blocks get their own mapping.
M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 4 << 20


@functools.cache
def _glibc():
    """The C library when it is glibc (it has ``malloc_trim``), else None (musl, macOS,
    Windows), where both calls below do nothing."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def return_freed_memory() -> None:
    """Hand the memory freed by the last chunk back to the system.

    glibc keeps freed blocks for reuse, and the forward passes of chunks with ever new tensor
    shapes leave its heaps more and more fragmented: measured, the resident memory of a stream
    grew by about 60-90 MiB per 10,000 documents without this and stayed flat with it
    (``bench/RESULTS.md``). One call per chunk costs well under a millisecond.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def map_large_blocks() -> None:
    """Give every block of 4 MiB or more (the activations of a forward pass) its own mapping,
    returned to the system when it is freed.

    glibc otherwise raises its threshold to 32 MiB after the first large free, so the
    activations of a chunk's growing batches land in the heap and stay there until the chunk
    ends: a chunk then peaked 150-250 MiB above the resting memory, and the longer the corpus,
    the higher its worst chunk. Measured with this: peak RSS at 200,000 documents 66 MiB above
    that at 2,000 (240 without), at the same speed (``bench/RESULTS.md``). Smaller thresholds
    cost speed: 1 MiB tagged 24% slower.
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)


def chunks(rows: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(rows, size)):
        yield chunk


def cpu_threads(num_processes: int) -> int:
    """This process's share of the cores, as training splits them."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // num_processes)


def my_shards(job: Job, state) -> list[int]:
    """The shards of this process (accelerate's split, contiguous blocks), unfinished ones."""
    with state.split_between_processes(list(range(job.num_shards))) as shards:
        return [shard for shard in shards if not job.finished(shard)]


def start(job: Job, state, overwrite: bool) -> int:
    """Check or create the output folder (the main process writes, the others only check) and
    return the documents left to tag in the whole job, counted before any process writes."""
    manifest = job.manifest("local")
    if state.is_main_process:
        prepare_folder(job.output, manifest, overwrite)
        remove_stale_files(job.output, [".part-*.tmp"])
    elif not overwrite:
        prepare_folder(job.output, manifest, overwrite=False)
    pending = sum(_size(job, shard) for shard in range(job.num_shards) if not job.finished(shard))
    state.wait_for_everyone()
    return pending


def _size(job: Job, shard: int) -> int:
    start_row, stop_row = job.rows_of(shard)
    return stop_row - start_row


def contiguous_runs(shards: Iterable[int]) -> Iterator[list[int]]:
    """``[3, 4, 5, 9]`` -> ``[3, 4, 5]``, ``[9]``: shards one input stream can read in turn."""
    run: list[int] = []
    for shard in shards:
        if run and shard != run[-1] + 1:
            yield run
            run = []
        run.append(shard)
    if run:
        yield run


def tag_shards(
    job: Job, shards: Iterable[int], tagger, on_chunk: Callable[[list[dict]], None] | None = None
) -> int:
    """Tag and write the given shards; returns the documents tagged. Consecutive shards share one
    input stream, so no row is read twice (a stream opened at shard k would skip k shards)."""
    done = 0
    for run in contiguous_runs(shards):
        start_row, stop_row = job.rows_of(run[0])[0], job.rows_of(run[-1])[1]
        rows = read_rows(job.files, job.text_column, job.id_column, start_row, stop_row)
        for shard in run:
            first, last = job.rows_of(shard)
            done += _tag_shard(job, shard, islice(rows, last - first), tagger, on_chunk)
    return done


def _tag_shard(job: Job, shard: int, rows: Iterator, tagger, on_chunk) -> int:
    writer = ShardWriter(job.output, shard, job.fmt, id_is_string=job.id_column is not None)
    done = 0
    try:
        for chunk in chunks(rows, job.chunk_size):
            records = tag_records(tagger, chunk)
            writer.write(records)
            return_freed_memory()
            done += len(records)
            if on_chunk:
                on_chunk(records)
    except BaseException:
        writer.discard()
        raise
    writer.close()
    return done
