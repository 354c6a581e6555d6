"""The Ray engine: the same job as a Ray Data pipeline, for a cluster when one machine is not
enough. ``read_*`` streams the inputs, ``map_batches`` hands chunks to actors that each load the
tagger once, and ``write_parquet`` writes the shards; Ray schedules, retries and spreads it.

Only this module imports Ray, and only when ``--engine ray`` runs.
"""

from __future__ import annotations

from pathlib import Path

from swiss_ner.corpus.job import Job
from swiss_ner.corpus.shards import (
    prepare_folder,
    read_manifest,
    remove_stale_files,
    write_manifest,
)

TEXT, ID = "__swiss_ner_text", "__swiss_ner_id"


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise RuntimeError(
            "--engine ray needs Ray; install it with pip install 'swiss-ner[ray]'"
        ) from None
    return ray


class TagActor:
    """A Ray actor that loads the tagger once and tags one batch (a pyarrow Table) per call."""

    def __init__(self, model: str, device: str | None, tagger_options: dict, threads: int,
                 id_is_string: bool) -> None:
        import torch

        from swiss_ner.corpus.local import map_large_blocks
        from swiss_ner.inference import NerTagger

        map_large_blocks()
        torch.set_num_threads(max(1, threads))
        self.tagger = NerTagger.from_pretrained(model, device=device, **tagger_options)
        self.tagger.warm_up()
        self.id_is_string = id_is_string

    def __call__(self, batch):
        import pyarrow as pa

        from swiss_ner.corpus.local import return_freed_memory, tag_records
        from swiss_ner.corpus.shards import schema

        ids = batch.column(ID).to_pylist()
        if self.id_is_string:
            ids = [None if value is None else str(value) for value in ids]
        records = tag_records(self.tagger, zip(ids, batch.column(TEXT).to_pylist(), strict=True))
        return_freed_memory()
        return pa.Table.from_pylist(records, schema=schema(self.id_is_string))


def _read(ray, file, text_column: str, id_column: str | None):
    """One input file as a Ray dataset with the columns TEXT (and ID when given)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = [text_column, *([id_column] if id_column else [])]
    if file.builder == "text":
        dataset = ray.data.read_text(file.path, encoding="utf-8-sig")
        columns = ["text"]
    elif file.builder == "parquet":
        dataset = ray.data.read_parquet(file.path, columns=columns)
    elif file.builder == "csv":
        # Empty fields are null, as the local engine's pandas-based reader makes them.
        options = pacsv.ConvertOptions(
            column_types={column: pa.string() for column in columns}, strings_can_be_null=True
        )
        dataset = ray.data.read_csv(file.path, convert_options=options)
    else:
        dataset = ray.data.read_json(file.path, lines=True)
    names = {columns[0]: TEXT, **({id_column: ID} if id_column else {})}
    return dataset.select_columns(columns).rename_columns(names)


def tag_with_ray(job: Job, config) -> int:
    """Run the job on Ray (local unless ``config.ray_address``), mark the folder complete and
    return the documents tagged (0 when the folder was already complete).

    A Ray job is one unit: a folder it left incomplete is tagged again from the start.
    """
    ray = _import_ray()
    prepare_folder(job.output, job.manifest("ray"), config.overwrite)
    if read_manifest(job.output).get("complete"):
        return 0
    remove_stale_files(job.output, ["*.parquet", ".*"])
    if not ray.is_initialized():
        ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # row numbers follow the input order
    context.enable_progress_bars = config.progress
    parts = [_read(ray, file, job.text_column, job.id_column) for file in job.files]
    dataset = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    if job.id_column is None:
        dataset = dataset.zip(ray.data.range(job.total).rename_columns({"id": ID}))
    device = config.device or "cpu"
    tagged = dataset.map_batches(
        TagActor,
        fn_constructor_kwargs={
            "model": str(Path(config.model).resolve()) if Path(config.model).exists()
            else config.model,
            "device": device,
            "tagger_options": job.tagger_options,
            "threads": int(config.ray_cpus_per_actor),
            "id_is_string": job.id_column is not None,
        },
        batch_size=job.chunk_size,
        batch_format="pyarrow",
        concurrency=config.ray_actors,
        num_cpus=config.ray_cpus_per_actor,
        num_gpus=1 if device.startswith("cuda") else None,
    )
    tagged.write_parquet(str(job.output.resolve()), min_rows_per_file=job.shard_size)
    write_manifest(job.output, {**read_manifest(job.output), "complete": True})
    return job.total
