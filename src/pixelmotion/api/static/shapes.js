// The shapes pixelmotion.js hands out, from the API's JSON: the VideoGenerationJob, and the
// compact indexed frames (a palette and base64 index bytes a frame) decoded into RGBA.
// Plain ES module, no dependencies.

function parseHex(hex) {
  const value = Number.parseInt(String(hex).replace("#", ""), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Turn the compact indexed form (palette + base64 index bytes) into RGBA frames; its
 * `transparentIndex` (or the job's, given) gets alpha 0. */
export function decodeIndexedFrames(indexed, { transparentIndex = null } = {}) {
  const { width, height, fps } = indexed;
  const transparent = indexed.transparentIndex ?? transparentIndex;
  const palette = indexed.palette.map(parseHex);
  const frames = indexed.frames.map((encoded, i) => {
    const indices = decodeBase64(encoded);
    const rgba = new Uint8ClampedArray(width * height * 4);
    for (let p = 0, o = 0; p < indices.length; p += 1, o += 4) {
      const color = palette[indices[p]] || palette[0];
      rgba[o] = color[0];
      rgba[o + 1] = color[1];
      rgba[o + 2] = color[2];
      rgba[o + 3] = indices[p] === transparent ? 0 : 255;
    }
    return { imageData: rgba, delayMs: indexed.delaysMs[i] ?? Math.round(1000 / fps), width, height };
  });
  return { width, height, fps, palette: indexed.palette, transparentIndex: transparent ?? null, frames };
}

/** The plan's VideoGenerationJob from the API's job JSON (and decoded frames, if any). */
export function toVideoGenerationJob(job, animation = null) {
  const result = {
    id: job.jobId,
    status: job.status,
    progress: job.progress,
    progressMessage: job.progressMessage ?? null,
    totalFrames: job.totalFrames ?? null,
    error: job.error?.message ?? null,
    errorCode: job.error?.code ?? null,
    estimatedTimeSeconds: job.estimatedTimeSeconds,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    completedAt: job.completedAt ?? null,
    width: job.width,
    height: job.height,
    fps: job.fps,
    queuePosition: job.queuePosition ?? null,
    background: job.background ?? "keep",
    keyColor: job.keyColor ?? null,
    loop: job.loop ?? "none",
    seam: job.seam ?? null,
    transparentIndex: job.transparentIndex ?? null,
    parentJobId: job.parentJobId ?? null,
  };
  if (animation) {
    result.frames = animation.frames;
    result.palette = animation.palette;
    result.totalFrames = animation.frames.length;
  }
  return result;
}
