"""The worker's ``process`` step (processing): download the clip (or read our stored copy of
the paid clip), pixelate it in the render pool, store the results, complete the job."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import PROCESSING_STEPS, JobStatus
from pixelmotion.media import MediaError, download_video, render_outputs
from pixelmotion.media.guard import AddressGuard
from pixelmotion.objects.base import StorageUnavailable
from pixelmotion.objects.keys import STORED_TYPES, output_key, source_clip_key
from pixelmotion.objects.retry import describe
from pixelmotion.worker.backoff import backoff_seconds
from pixelmotion.worker.outages import STORAGE_WAITS, storage_delay, storage_outage
from pixelmotion.worker.poll import by_deadline
from pixelmotion.worker.ports import StepPorts

logger = logging.getLogger(__name__)

MAX_PROCESS_ATTEMPTS = 3
# Media errors of a downloaded clip that another download may not have: fetched again.
CLIP_DEFECTS = frozenset({"VIDEO_TRUNCATED", "VIDEO_UNREADABLE"})
# Every job gets every export (at 64×64 they cost tens of milliseconds: docs/PERFORMANCE.md).
FORMATS = ("sheet", "gif", "json", "aseprite", "atlas", "godot", "webp", "apng", "zip")


async def process(ports: StepPorts, job: Job) -> None:
    repository = ports.store
    started = time.monotonic()
    workdir: Path | None = None
    downloaded = True  # until obtain_clip says the clip came from our own store
    try:
        workdir = Path(tempfile.mkdtemp(prefix=f"pixelmotion-{job.id[:8]}-"))
        clip = workdir / "source.mp4"
        await report(ports, job, "download")
        downloaded = await obtain_clip(ports, job, clip)
        await report(ports, job, "decode")
        outputs = workdir / "out"
        loop = asyncio.get_running_loop()
        summary: dict[str, Any] = await loop.run_in_executor(
            ports.render_pool,
            _render,
            str(clip),
            str(outputs),
            canvas_options(job),
        )
        await report(ports, job, "encode")
        keys = await asyncio.to_thread(store_outputs, ports, job, outputs, summary["files"])
    except MediaError as error:
        # A damaged download (the CDN served half a file, or garbage) is fetched again; the
        # same error from our own stored copy, or any other media error, is final.
        refetch = downloaded and error.code in CLIP_DEFECTS
        await process_failed(ports, job, error.code, error.message, refetch=refetch)
        return
    except JobLeftProcessing:
        logger.info("job %s: left processing (canceled?); stopping", job.id)
        return
    except (StorageUnavailable, OSError) as error:
        # The object store away, or no space (the store's disk, or the scratch directory,
        # also as a plain OSError across the render pool): ours to fix, not the job's.
        code = storage_outage(error)
        if code is None:
            raise
        await wait_for_storage(ports, job, code, error)
        return
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    ours_ms = int((time.monotonic() - started) * 1000)
    now = ports.clock()
    move = moves.completed(
        total_frames=summary["totalFrames"],
        keys=keys,
        frame_data=frame_data(summary),
        frame_ms=ours_ms,
        total_ms=int((now - job.created_at).total_seconds() * 1000),
    )
    done = await asyncio.to_thread(repository.jobs.apply, job.id, move, now=now)
    if done is not None:
        logger.info("job %s: completed, %d frames in %d ms", job.id, summary["totalFrames"], ours_ms)


def canvas_options(job: Job) -> dict[str, Any]:
    """``render_outputs``' keyword arguments for this job (plain values: they cross to the pool)."""
    return {
        "width": job.width,
        "height": job.height,
        "colors": job.color_count,
        "fps": job.fps,
        "dither": job.dither,
        "fit": job.fit,
        "palette": list(job.palette) if job.palette else None,
        "background": job.background,
        "key_color": job.key_color,
        "loop": job.loop_mode,
        "formats": FORMATS,
    }


def _render(clip: str, out_dir: str, options: dict[str, Any]) -> dict[str, Any]:
    """Runs in the process pool."""
    return render_outputs(clip, out_dir, **options)


class JobLeftProcessing(Exception):
    """The job was canceled (or otherwise moved) while we processed it: stop here."""


async def report(ports: StepPorts, job: Job, step: str) -> None:
    """Show a processing sub-step; stops the step if the job is no longer processing."""
    progress, message = PROCESSING_STEPS[step]
    moved = await asyncio.to_thread(
        ports.store.jobs.report_progress, job.id, JobStatus.PROCESSING, progress, message
    )
    if moved is None:
        raise JobLeftProcessing(job.id)


async def obtain_clip(ports: StepPorts, job: Job, clip: Path) -> bool:
    """Our stored copy of the paid clip if we have one, else download it and keep a copy.

    True when the clip was downloaded in this run (not read from our store). A re-render
    copies its parent's clip under its own prefix first: each job keeps the clip it uses for
    as long as it is kept itself (retention deletes a job's prefix with no look at others)."""
    stored = job.source_object_key
    have_copy: bool = stored is not None and await asyncio.to_thread(ports.objects.exists, stored)
    if stored is not None and have_copy:
        clip.write_bytes(await asyncio.to_thread(ports.objects.get_bytes, stored))
        own = source_clip_key(job.id)
        if job.parent_job_id and stored != own:
            await asyncio.to_thread(ports.objects.put_file, own, clip, "video/mp4")
            await asyncio.to_thread(
                ports.store.jobs.update_fields, job.id, JobStatus.PROCESSING, {"source_object_key": own}
            )
        return False
    if not job.luma_video_url:
        raise MediaError("DOWNLOAD_FAILED", "The provider gave no video URL for this clip.")
    guard = AddressGuard(ports.settings.allowed_asset_hosts, ports.settings.allowed_asset_prefixes)
    await asyncio.to_thread(
        download_video, job.luma_video_url, clip, max_bytes=ports.settings.max_video_bytes, guard=guard
    )
    key = source_clip_key(job.id)
    await asyncio.to_thread(ports.objects.put_file, key, clip, "video/mp4")
    await asyncio.to_thread(
        ports.store.jobs.update_fields, job.id, JobStatus.PROCESSING, {"source_object_key": key}
    )
    return True


async def wait_for_storage(ports: StepPorts, job: Job, code: ErrorCode, error: BaseException) -> None:
    """Try the job again once storage may be back: no attempt counted, the paid clip's key
    kept, the reason in its progress message; at the deadline it fails with ``code``."""
    delay = storage_delay(error)
    logger.warning("job %s: %s (%s); trying again in %.0fs", job.id, code.value, describe(error), delay)
    waiting = await asyncio.to_thread(
        ports.store.jobs.report_progress, job.id, JobStatus.PROCESSING, job.progress, STORAGE_WAITS[code]
    )
    if waiting is None:
        return  # canceled meanwhile
    later = by_deadline(ports, job, ports.clock() + timedelta(seconds=delay))
    await asyncio.to_thread(
        ports.store.queue.release, job.id, ports.owner, reschedule=(JobStatus.PROCESSING, later)
    )


def store_outputs(ports: StepPorts, job: Job, outputs: Path, files: dict[str, str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for name, filename in files.items():
        if name not in STORED_TYPES:
            continue  # "pngs" (a directory) is not stored
        key = output_key(job.id, name)
        ports.objects.put_file(key, outputs / filename, STORED_TYPES[name])
        keys[name] = key
    return keys


def frame_data(summary: dict[str, Any]) -> dict[str, Any]:
    """Small inline metadata only; never pixel arrays. ``seam``, ``transparentIndex`` and
    ``keyColor`` (the key colour used) come with the loop trim and background removal."""
    data = {
        "width": summary["width"],
        "height": summary["height"],
        "fps": summary["fps"],
        "durationMs": summary["durationMs"],
        "palette": summary["palette"],
        "timingsMs": summary.get("timingsMs", {}),
        "source": summary.get("source", {}),
    }
    loop = summary.get("loop") or {}
    if loop.get("seam") is not None:
        data["seam"] = loop["seam"]
    if "transparentIndex" in summary:
        data["transparentIndex"] = summary["transparentIndex"]
        data["keyColor"] = summary["keyColor"]
    return data


async def process_failed(
    ports: StepPorts, job: Job, code: str, message: str, *, refetch: bool = False
) -> None:
    repository = ports.store
    transient = code == "DOWNLOAD_FAILED" or refetch
    if transient and job.attempts + 1 < MAX_PROCESS_ATTEMPTS:
        if refetch:
            # Forget the damaged copy so the next run downloads the clip again. On the last
            # attempt the copy is kept: the paid clip, for a retry once the cause is fixed.
            await asyncio.to_thread(
                repository.jobs.update_fields, job.id, JobStatus.PROCESSING, {"source_object_key": None}
            )
        delay = backoff_seconds(job.attempts)
        later = by_deadline(ports, job, ports.clock() + timedelta(seconds=delay))
        logger.warning("job %s: %s (%s); retrying in %.1fs", job.id, code, message, delay)
        await asyncio.to_thread(
            repository.queue.release,
            job.id,
            ports.owner,
            reschedule=(JobStatus.PROCESSING, later),
            failed_attempt=True,
        )
        return
    logger.warning("job %s: failed with %s: %s", job.id, code, message)
    await asyncio.to_thread(repository.jobs.apply, job.id, moves.failed(code, message))
