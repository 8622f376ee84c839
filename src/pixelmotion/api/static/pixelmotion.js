/**
 * pixelmotion.js: a small client for the pixelmotion API, as an ES module with no
 * dependencies. Served by every pixelmotion at /static/pixelmotion.js.
 *
 *   import { configure, startVideoGeneration, subscribeToVideoJob }
 *     from "https://pixelmotion.example/static/pixelmotion.js";
 *
 *   configure({ baseUrl: "https://pixelmotion.example", token: () => session.access_token });
 *   const { jobId } = await startVideoGeneration({
 *     prompt: "a knight swinging a sword", width: 64, height: 64, colorCount: 16, fps: 12,
 *   });
 *   const unsubscribe = subscribeToVideoJob(jobId, (job) => {
 *     showProgress(job.progress, job.progressMessage);
 *     if (job.status === "completed") editor.loadFrames(job.frames);
 *     if (job.status === "failed") showError(job.error);
 *   });
 *
 * VideoGenerationJob, the object every callback receives (the plan's shape, plus a few
 * fields an editor finds useful):
 *   id                    the job id
 *   status                "pending" | "queued" | "dreaming" | "processing" | "completed"
 *                         | "failed" | "canceled"
 *   progress              0..100
 *   progressMessage       the server's words for the current step ("AI generating... (1-2 min)")
 *   totalFrames           number of frames once completed, else null
 *   error                 the error message for people when failed/canceled, else null
 *   errorCode             e.g. "LUMA_GENERATION_FAILED", "TIMEOUT", "CANCELED", else null
 *   estimatedTimeSeconds  the server's estimate for a whole job
 *   createdAt, updatedAt, completedAt   ISO 8601 strings (completedAt null until completed)
 *   width, height, fps    the animation's size and speed
 *   palette               ["#rrggbb", ...] once completed (frames present)
 *   background            "keep" | "remove"; keyColor "#rrggbb" or null
 *   loop                  "none" | "trim" | "pingpong"; seam: for "trim", the jump from the
 *                         last frame to the first as a multiple of a normal frame step
 *   transparentIndex      the palette index that is transparent, or null
 *   parentJobId           for a re-render (see render()), the job it was made from
 *   frames                only on "completed": an array ready for an editor's loadFrames,
 *                         one entry per frame, in order (a "pingpong" loop's frames already
 *                         go forward then back):
 *                           { imageData: Uint8ClampedArray  (width*height*4 bytes, RGBA,
 *                                                            row by row, alpha 255, or 0
 *                                                            on the transparent index),
 *                             delayMs:   number             (how long the frame shows),
 *                             width:     number, height: number }
 *                         `new ImageData(f.imageData, f.width, f.height)` draws it.
 *   framesError           set instead of frames when the frames could not be fetched
 *   queuePosition         while "pending" behind the provider account's limits: the job's
 *                         place in line (1 is next); null otherwise
 *
 * Transport: an EventSource on /v1/jobs/{id}/events?access_token=... (it resumes by itself
 * after a network drop, with no event lost), falling back to polling GET /v1/jobs/{id} when
 * EventSource is missing or the stream cannot be opened. While the job is "pending" it is
 * also read every pollIntervalMs: its place in line changes as other jobs move on, with no
 * event of its own. The callback is called once per change, and the subscription ends by
 * itself after a final state.
 */

import { decodeIndexedFrames, toVideoGenerationJob } from "./shapes.js";

export { decodeIndexedFrames, toVideoGenerationJob };

const TERMINAL = new Set(["completed", "failed", "canceled"]);

const settings = { baseUrl: "", token: null, pollIntervalMs: 2000 };

/** Set where the API is and how to authenticate.
 * @param {{baseUrl?: string, token?: string | (() => string | null) | null, pollIntervalMs?: number}} options
 */
export function configure(options = {}) {
  if (options.baseUrl !== undefined) settings.baseUrl = String(options.baseUrl || "").replace(/\/+$/, "");
  if (options.token !== undefined) settings.token = options.token;
  if (options.pollIntervalMs !== undefined) settings.pollIntervalMs = Math.max(250, options.pollIntervalMs);
  return { ...settings, token: settings.token ? "(set)" : null };
}

function currentToken() {
  const token = typeof settings.token === "function" ? settings.token() : settings.token;
  return token || null;
}

/** An API error: `status` is the HTTP status, `code` the API's error code. */
export class PixelmotionError extends Error {
  constructor(message, { status = 0, code = "NETWORK_ERROR", fields = null } = {}) {
    super(message);
    this.name = "PixelmotionError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

function apiUrl(path, query = {}) {
  const base = settings.baseUrl || globalThis.location?.origin || "http://127.0.0.1:8000";
  const url = new URL(base + path);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  return url.toString();
}

async function request(path, { method = "GET", body, file, query, signal } = {}) {
  const headers = { Accept: "application/json" };
  const token = currentToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (file !== undefined) {
    headers["Content-Type"] = file.type || "application/octet-stream";
    payload = file;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method,
      headers,
      body: payload,
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new PixelmotionError(`Cannot reach pixelmotion: ${error?.message || error}`);
  }
  if (!response.ok) {
    let detail = null;
    try {
      detail = (await response.json())?.error ?? null;
    } catch {
      detail = null;
    }
    throw new PixelmotionError(detail?.message || `HTTP ${response.status}`, {
      status: response.status,
      code: detail?.code || `HTTP_${response.status}`,
      fields: detail?.fields || null,
    });
  }
  return response;
}

/** Start a generation. `params`: {prompt, width, height, colorCount, fps, duration?, dither?,
 * fit?, loop?, model?, resolution?, aspectRatio?, projectId?}; or, to pixelate your own video
 * with no model, `source: {type: "upload", uploadId}` (see uploadVideo) or
 * `source: {type: "url", url}` with the canvas fields (the prompt is then optional).
 * Canvas fields besides size, colours, fps and dither:
 *   palette     a preset name ("pico8", "gameboy", "nes", "sweetie-16", ...), a string of hex
 *               colours, an array of "#rrggbb", or a palette file
 *               {file: "<base64>", filename: "x.gpl"} (.gpl, .hex, .pal or .png); with a
 *               palette, colorCount may be left out (it is the palette's size)
 *   paletteFrom the id of an earlier job whose palette to use
 *   background  "keep" | "remove" (transparent); keyColor "#rrggbb" (else estimated)
 *   fit         "crop" | "contain" | "stretch" | "subject" (needs background "remove")
 *   loop        "none" | "trim" | "pingpong"
 * @returns {Promise<{jobId: string, status: string, estimatedTimeSeconds: number}>}
 */
export async function startVideoGeneration(params) {
  const response = await request("/v1/jobs", { method: "POST", body: params });
  const body = await response.json();
  return { jobId: body.jobId, status: body.status, estimatedTimeSeconds: body.estimatedTimeSeconds };
}

/** Re-render a finished job from its stored clip: no new clip, no cost. `options`: any canvas
 * field of startVideoGeneration (width, height, colorCount, palette, paletteFrom, fps, dither,
 * fit, background, keyColor, loop); those left out keep the finished job's values. The new
 * job is followed like any other (its parentJobId names the finished one).
 * @returns {Promise<{jobId: string, status: string, estimatedTimeSeconds: number}>}
 */
export async function render(jobId, options = {}) {
  const path = `/v1/jobs/${encodeURIComponent(jobId)}/renders`;
  const body = await (await request(path, { method: "POST", body: options })).json();
  return { jobId: body.jobId, status: body.status, estimatedTimeSeconds: body.estimatedTimeSeconds };
}

/** Upload a video (a File or Blob: MP4, MOV, WebM or MKV) for a job to pixelate.
 * @returns {Promise<{uploadId: string, bytes: number}>} pass uploadId as
 *   `startVideoGeneration({...canvas, source: {type: "upload", uploadId}})`.
 */
export async function uploadVideo(file, { signal } = {}) {
  const response = await request("/v1/uploads", { method: "POST", file, signal });
  const body = await response.json();
  return { uploadId: body.uploadId, bytes: body.bytes };
}

/** The job as the API shows it (GET /v1/jobs/{id}). */
export async function getJob(jobId) {
  return (await request(`/v1/jobs/${encodeURIComponent(jobId)}`)).json();
}

/** The caller's jobs, newest first: {jobs, nextCursor}. */
export async function listJobs({ limit = 20, cursor, status, projectId } = {}) {
  return (await request("/v1/jobs", { query: { limit, cursor, status, projectId } })).json();
}

/** Cancel an unfinished job; returns the job. */
export async function cancelJob(jobId) {
  return (await request(`/v1/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" })).json();
}

const OUTPUT_PATHS = {
  gif: "animation.gif",
  sheet: "sheet.png",
  sheetJson: "sheet.json",
  frames: "frames",
  indexed: "frames?format=indexed",
};

/** One of a completed job's results as a Blob. `job`: the API's job JSON, whose `outputs`
 * name every result it has ("gif", "sheet", "sheetJson", "aseprite", "webp", "apng", "zip",
 * "sheetHash", "sheetArray", "godot", "frames", "indexed"), or a job id for the first five of
 * "gif", "sheet", "sheetJson", "frames", "indexed". */
export async function fetchOutput(job, name, { signal } = {}) {
  const listed = typeof job === "object" ? job.outputs?.[name] : null;
  const jobId = typeof job === "object" ? job.jobId : job;
  let path = OUTPUT_PATHS[name] && `/v1/jobs/${encodeURIComponent(jobId)}/${OUTPUT_PATHS[name]}`;
  if (listed) {
    const url = new URL(listed, apiUrl("/"));
    path = `${url.pathname}${url.search}`;
  }
  if (!path) throw new PixelmotionError(`Unknown output ${name}`, { code: "UNKNOWN_OUTPUT" });
  return (await request(path, { signal })).blob();
}

/** A completed job's frames, decoded: {width, height, fps, palette, transparentIndex,
 * frames: [{imageData, delayMs, width, height}]}. Uses the compact indexed download, or the
 * RGBA one if absent. `transparentIndex`: the job's, for frames that do not say it. */
export async function fetchFrames(jobId, { signal, transparentIndex = null } = {}) {
  const id = encodeURIComponent(jobId);
  try {
    const response = await request(`/v1/jobs/${id}/frames`, { query: { format: "indexed" }, signal });
    return decodeIndexedFrames(await response.json(), { transparentIndex });
  } catch (error) {
    if (!(error instanceof PixelmotionError) || error.status !== 404) throw error;
  }
  const plain = await (await request(`/v1/jobs/${id}/frames`, { signal })).json();
  return {
    width: plain.width,
    height: plain.height,
    fps: plain.fps,
    palette: plain.palette,
    transparentIndex,
    frames: plain.frames.map((f) => ({
      imageData: Uint8ClampedArray.from(f.imageData),
      delayMs: f.delayMs,
      width: plain.width,
      height: plain.height,
    })),
  };
}

function streamUrl(path, query = {}) {
  const token = currentToken();
  return apiUrl(path, { ...query, access_token: token || undefined });
}

/**
 * Follow one job until it ends. `callback(job, apiJob)` gets the VideoGenerationJob and the
 * API's job JSON on each change; on "completed" the job carries `frames` (unless
 * `options.frames` is false). Returns a function that stops the subscription.
 * @param {string} jobId
 * @param {(job: object, apiJob: object) => void} callback
 * @param {{frames?: boolean, onError?: (error: Error) => void, pollIntervalMs?: number}} options
 */
export function subscribeToVideoJob(jobId, callback, options = {}) {
  const wantFrames = options.frames !== false;
  const onError = options.onError || ((error) => console.warn("pixelmotion:", error));
  const pollMs = options.pollIntervalMs || settings.pollIntervalMs;
  const aborter = new AbortController();
  let closed = false;
  let finished = false;
  let lastKey = null;
  let source = null;
  let timer = null;
  let queueTimer = null;

  const stopTransports = () => {
    if (source) source.close();
    source = null;
    clearTimeout(timer);
    timer = null;
    clearTimeout(queueTimer);
    queueTimer = null;
  };

  const emit = (job, animation) => {
    if (closed) return;
    try {
      callback(toVideoGenerationJob(job, animation), job);
    } catch (error) {
      console.error(error);
    }
  };

  const deliver = (job) => {
    if (closed || finished) return;
    if (job.status === "pending") watchQueue();
    const key = `${job.status}|${job.progress}|${job.progressMessage}|${job.queuePosition ?? ""}`;
    if (key === lastKey) return;
    lastKey = key;
    if (!TERMINAL.has(job.status)) {
      emit(job);
      return;
    }
    finished = true;
    stopTransports();
    if (job.status === "completed" && wantFrames) {
      const transparentIndex = job.transparentIndex ?? null;
      fetchFrames(jobId, { signal: aborter.signal, transparentIndex }).then(
        (animation) => emit(job, animation),
        (error) => {
          if (closed || error?.name === "AbortError") return;
          const result = toVideoGenerationJob(job);
          result.framesError = error.message;
          try {
            callback(result, job);
          } catch (callbackError) {
            console.error(callbackError);
          }
        },
      );
      return;
    }
    emit(job);
  };

  // Read the job once; a refusal (401) or a job gone (404) ends the subscription.
  const readJob = async () => {
    try {
      deliver(await getJob(jobId));
    } catch (error) {
      if (error instanceof PixelmotionError && (error.status === 401 || error.status === 404)) {
        finished = true;
        stopTransports();
        onError(error);
      }
    }
  };

  const poll = async () => {
    timer = null;
    if (closed || finished) return;
    await readJob();
    if (!closed && !finished) timer = setTimeout(poll, pollMs);
  };

  // Over the stream, a pending job is read again now and then: its place in line moves
  // without an event (polling reads it anyway).
  const watchQueue = () => {
    if (queueTimer || !source || closed || finished) return;
    queueTimer = setTimeout(() => {
      queueTimer = null;
      if (!closed && !finished) readJob();
    }, pollMs);
  };

  const openStream = () => {
    source = new EventSource(streamUrl(`/v1/jobs/${encodeURIComponent(jobId)}/events`));
    source.addEventListener("job", (event) => {
      try {
        deliver(JSON.parse(event.data));
      } catch (error) {
        onError(error);
      }
    });
    source.onerror = () => {
      // CONNECTING: the browser resumes by itself with Last-Event-ID. CLOSED: the stream was
      // refused (or answered 204 after the end): ask the job itself, and keep polling.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        if (!closed && !finished) poll();
      }
    };
  };

  if (typeof EventSource === "function") openStream();
  else poll();

  return () => {
    closed = true;
    stopTransports();
    aborter.abort();
  };
}

/**
 * Follow every job of the signed-in user: `callback(apiJob)` on each change (the API's job
 * JSON). The active jobs' current state comes first. Returns a function that stops it.
 * @param {(apiJob: object) => void} callback
 * @param {{onError?: (error: Error) => void, onOpen?: () => void, retryMs?: number}} options
 */
export function subscribeToMyJobs(callback, options = {}) {
  const retryMs = options.retryMs || 3000;
  let closed = false;
  let source = null;
  let timer = null;
  let lastEventId = null;

  const open = () => {
    timer = null;
    if (closed) return;
    const query = lastEventId ? { after: lastEventId } : {};
    source = new EventSource(streamUrl("/v1/events", query));
    source.onopen = () => options.onOpen?.();
    source.addEventListener("job", (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      try {
        callback(JSON.parse(event.data));
      } catch (error) {
        console.error(error);
      }
    });
    source.onerror = () => {
      if (source && source.readyState === EventSource.CLOSED) {
        source.close();
        source = null;
        options.onError?.(new PixelmotionError("The event stream was refused", { code: "STREAM_CLOSED" }));
        if (!closed) timer = setTimeout(open, retryMs);
      }
    };
  };

  if (typeof EventSource === "function") open();
  return () => {
    closed = true;
    clearTimeout(timer);
    if (source) source.close();
  };
}
