"""Render jobs: source rows → renderer → blob store, in worker threads off the event loop.

The renderers are synchronous and pull rows as they write, so a job runs in a worker thread:
sync gRPC streams feed the renderer, whose chunks (compressed) go to the blob store; reading
and rendering run in a thread of their own while the worker's stores (read_ahead.py), and
memory holds a few chunks at a time whatever the number of rows. CSV of a dataset is
the fast path: PostgreSQL formats it (COPY in the prompts service) and the bytes pass through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from services.exports.blobstores import STORE_CHUNK_BYTES, BlobStore
from services.exports.rendering import compression
from services.exports.rendering.fine_tune import fine_tune_request, training_table
from services.exports.rendering.read_ahead import read_ahead
from services.exports.rendering.renderers import FORMATS, Cell, RenderOptions, Report, render, render_zip
from services.exports.rendering.reports import RenderStats, artifact_report, prompt_report
from services.exports.rendering.sources import Sources
from services.exports.rendering.takeout import render_account
from services.exports.rendering.work import Rendering, RenderJob
from services.exports.rules import DATA_FORMATS, DATASETS, FINE_TUNE, TABLE_FORMATS, changed_window

assert {*TABLE_FORMATS, *DATA_FORMATS} == FORMATS, "the renderers and the rules disagree on formats"


# How far rendering may run ahead of storing: a few stored chunks, so that neither waits on the
# other's pauses, in memory that does not grow with the export.
READ_AHEAD_BYTES = 4 * STORE_CHUNK_BYTES


class RenderCancelled(Exception):
    """The job's worker lost its lease: another worker renders it now."""


def _unless_cancelled(chunks: Iterator[bytes], job: RenderJob) -> Iterator[bytes]:
    """The chunks, until the job is cancelled; then the store's write fails and keeps nothing."""
    for chunk in chunks:
        if job.cancelled.is_set():
            raise RenderCancelled(f"export {job.export_id}: the job was taken from this worker")
        yield chunk


class RenderRunner:
    """Runs render jobs on a bounded pool of worker threads."""

    def __init__(self, *, sources: Sources, blobs: BlobStore, workers: int) -> None:
        self._sources = sources
        self._blobs = blobs
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="depot-render")

    async def render(self, job: RenderJob) -> Rendering:
        """Renders a job and stores its bytes under job.blob_key; returns size, digest and stats."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run, job)

    def run(self, job: RenderJob) -> Rendering:
        """The job itself, synchronously (in a worker thread)."""
        started = time.perf_counter()
        stats = job.progress
        chunks = _unless_cancelled(self.chunks(job, stats), job)
        content = compression.encode(chunks, job.request.media_type)
        # The source is read, rendered and compressed in a thread of its own while this one stores.
        ahead = read_ahead(content, max_bytes=READ_AHEAD_BYTES, name=f"depot-render-{job.export_id}")
        with contextlib.closing(ahead):
            stored, _ = self._blobs.put(job.blob_key, ahead)
        return Rendering(
            size=content.size,
            sha256=content.sha256,
            seconds=time.perf_counter() - started,
            stats=stats,
            encoding=content.encoding,
            stored_bytes=stored,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def chunks(self, job: RenderJob, stats: RenderStats) -> Iterator[bytes]:
        """The rendered bytes of a job, streamed."""
        request, kind, name = job.request, job.request.source.kind, job.request.source.name
        options = RenderOptions(csv_mode=request.csv_mode)  # type: ignore[arg-type]
        if kind == "prompts":
            report = prompt_report(
                job.resolved.payload,
                include_workflow=bool(request.options["include_workflow"]),
                stats=stats,
                read_time=job.resolved.read_time,
            )
            return render(report, request.format, options)
        if kind == "artifacts":
            report = artifact_report(job.resolved.payload, stats=stats, read_time=job.resolved.read_time)
            return render(report, request.format, options)
        if kind == "account":
            reader = self._sources.account(job.acting)
            return render_account(
                reader, owner=job.acting.user_id, revision=job.resolved.revision, stats=stats
            )
        if kind == "chats":
            return render_zip(
                self._sources.chat_files(name, owner=job.resolved.data_owner, acting=job.acting, stats=stats)
            )
        return self._dataset_chunks(job, stats, options)

    def _dataset_chunks(self, job: RenderJob, stats: RenderStats, options: RenderOptions) -> Iterator[bytes]:
        request, name = job.request, job.request.source.name
        all_users = bool(request.options["all_users"])
        names = DATASETS if name == "all" else (name,)
        window = changed_window(request.options)  # an incremental scheduled run: changed rows only
        # Every dataset of the export comes from one stream read in one snapshot (`datasets/all`
        # never mixes moments), consumed in order.
        if request.format == "csv":
            csvs = self._sources.dataset_csvs(
                names,
                all_users=all_users,
                csv_mode=request.csv_mode,
                acting=job.acting,
                stats=stats,
                window=window,
            )
            if len(csvs) == 1:
                return csvs[0][1]
            return render_zip((f"{n}.csv", chunks) for n, chunks in csvs)
        if name == FINE_TUNE:
            return self._fine_tune_chunks(job, stats, options)
        # parquet and jsonl parse PostgreSQL's CSV in C (pyarrow) rather than typed rows cell by cell.
        typed_csv = request.format in DATA_FORMATS
        read = self._sources.dataset_csv_tables if typed_csv else self._sources.dataset_tables
        tables = read(names, all_users=all_users, acting=job.acting, stats=stats, window=window)
        fields: list[tuple[str, Cell]] = [
            ("source", str(request.source)),
            ("scope", "every user" if all_users else "own"),
            ("revision", job.resolved.revision),
            ("snapshot_time", stats.snapshot_time),  # the one snapshot every table was read in
        ]
        return render(Report(title=f"Dataset {name}", fields=fields, tables=tables), request.format, options)

    def _fine_tune_chunks(
        self, job: RenderJob, stats: RenderStats, options: RenderOptions
    ) -> Iterator[bytes]:
        """The fine-tune dataset: rows chosen by the prompts service, shaped for training tools."""
        request = job.request
        [table] = self._sources.dataset_tables(
            (FINE_TUNE,),
            all_users=bool(request.options["all_users"]),
            acting=job.acting,
            stats=stats,
            fine_tune=fine_tune_request(request.options),
        )
        shaped = training_table(table, str(request.options["shape"]))
        return render(Report(title=f"Dataset {FINE_TUNE}", tables=[shaped]), request.format, options)
