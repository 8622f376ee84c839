"""The example job of the OpenAPI description (and /docs): one job throughout."""

from __future__ import annotations

from typing import Any

EXAMPLE_JOB_ID = "3f2b8c1e-5d4a-4e8b-9c7d-2a1f0e6b9d55"
EXAMPLE_UPLOAD_ID = "9b1c2d3e4f5a67890b1c2d3e4f5a6789"
EXAMPLE_OUTPUTS = {
    "frames": f"/v1/jobs/{EXAMPLE_JOB_ID}/frames",
    "indexed": f"/v1/jobs/{EXAMPLE_JOB_ID}/frames?format=indexed",
    "sheet": f"/v1/jobs/{EXAMPLE_JOB_ID}/sheet.png",
    "sheetJson": f"/v1/jobs/{EXAMPLE_JOB_ID}/sheet.json",
    "gif": f"/v1/jobs/{EXAMPLE_JOB_ID}/animation.gif",
    "webp": f"/v1/jobs/{EXAMPLE_JOB_ID}/animation.webp",
    "apng": f"/v1/jobs/{EXAMPLE_JOB_ID}/animation.png",
    "zip": f"/v1/jobs/{EXAMPLE_JOB_ID}/frames.zip",
    "aseprite": f"/v1/jobs/{EXAMPLE_JOB_ID}/animation.aseprite",
    "sheetHash": f"/v1/jobs/{EXAMPLE_JOB_ID}/sheet.hash.json",
    "sheetArray": f"/v1/jobs/{EXAMPLE_JOB_ID}/sheet.array.json",
    "godot": f"/v1/jobs/{EXAMPLE_JOB_ID}/animation.tres",
}
EXAMPLE_JOB: dict[str, Any] = {
    "jobId": EXAMPLE_JOB_ID,
    "status": "completed",
    "progress": 100,
    "progressMessage": "Done!",
    "estimatedTimeSeconds": 90,
    "totalFrames": 60,
    "error": None,
    "createdAt": "2026-05-04T10:00:00.000000Z",
    "updatedAt": "2026-05-04T10:01:31.500000Z",
    "completedAt": "2026-05-04T10:01:31.500000Z",
    "outputs": EXAMPLE_OUTPUTS,
    "prompt": "a knight swinging a sword",
    "width": 64,
    "height": 64,
    "colorCount": 16,
    "fps": 12,
    "duration": 5,
    "model": "ray-2",
    "resolution": "720p",
    "aspectRatio": "1:1",
    "loop": "none",
    "dither": "none",
    "fit": "crop",
    "projectId": None,
    "estimatedCostUsd": 0.3981,
    "palette": None,
    "background": "keep",
    "keyColor": None,
    "seam": None,
    "transparentIndex": None,
    "parentJobId": None,
}
EXAMPLE_FAILED_JOB: dict[str, Any] = {
    **EXAMPLE_JOB,
    "status": "failed",
    "progress": 60,
    "progressMessage": "The video model could not make this clip: Job failed",
    "totalFrames": None,
    "error": {
        "code": "LUMA_GENERATION_FAILED",
        "message": "The video model could not make this clip: Job failed",
    },
    "completedAt": None,
    "outputs": {},
}
