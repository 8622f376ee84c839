// pixelmotion's page: a form that starts a generation (or re-renders a finished one), its
// live progress, the result playing in a canvas, downloads, and the user's jobs kept live.
// Plain ES module, no build step; its parts are controls.js, palette.js, downloads.js,
// history.js, player.js and ui.js.
import { FIELD_INPUTS, clearInvalid, markInvalid, prefillCanvas, readCanvas } from "./controls.js";
import { readForm, sourceMode, wireControls } from "./controls.js";
import { showDownloads, wireDownloads } from "./downloads.js";
import { clearHistory, initHistory, loadHistory, markCurrent, renderHistoryItem, upsertJob } from "./history.js";
import { applyPaletteLabels, initPalette } from "./palette.js";
import * as pm from "./pixelmotion.js";
import { Player } from "./player.js";
import { TEXT, messageFor, setLanguage, t } from "./texts.js";
import { $, TERMINAL, formatDuration, shortPrompt, showSignIn, storage, takeTokenFromAddress, timeOf, toast } from "./ui.js";

const TOKEN_KEY = "pixelmotion.token";
const LANG_KEY = "pixelmotion.lang";
const CURRENT_KEY = "pixelmotion.current";
const ANNOUNCED_KEY = "pixelmotion.announced";

const state = {
  token: null,
  jobs: new Map(), // jobId -> the API's job JSON, the newest seen
  nextCursor: null,
  currentId: null,
  currentJob: null, // the current job's API JSON
  currentAnimation: null,
  renderParent: null, // the finished job the form re-renders, while it does
  unsubscribeCurrent: null,
  unsubscribeAll: null,
  seenActive: new Set(), // jobs seen unfinished during this visit: their end is announced
  announced: new Set(),
  pendingAnnounce: new Set(),
};

function pickLanguage() {
  const stored = storage.get(LANG_KEY);
  if (stored && TEXT[stored]) return stored;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (TEXT[base]) return base;
  }
  return "en";
}

// ---------------------------------------------------------------- announcements

function loadAnnounced() {
  try {
    const ids = JSON.parse(storage.get(ANNOUNCED_KEY) || "[]");
    state.announced = new Set(Array.isArray(ids) ? ids : []);
  } catch {
    state.announced = new Set();
  }
}

function markAnnounced(jobId) {
  state.announced.add(jobId);
  storage.set(ANNOUNCED_KEY, JSON.stringify([...state.announced].slice(-100)));
}

/** Tell the user a job ended, once: if it was seen running in this visit, or it was the job
 * this browser was following when the tab closed. */
function announce(job) {
  const id = job.jobId;
  if (!TERMINAL.has(job.status) || state.announced.has(id)) return;
  if (!state.seenActive.has(id) && !state.pendingAnnounce.has(id)) return;
  markAnnounced(id);
  const action = id === state.currentId ? null : { label: t("show"), run: () => showJob(id, { focus: true }) };
  const prompt = shortPrompt(job.prompt, 120);
  if (job.status === "completed") {
    toast({ kind: "success", title: t("toastDone"), body: prompt, action });
  } else if (job.status === "failed") {
    toast({ kind: "error", title: t("toastFailed"), body: job.error?.message || prompt, action });
  } else {
    toast({ kind: "info", title: t("toastCanceled"), body: prompt });
  }
}

// ---------------------------------------------------------------- language

function applyLanguage(lang) {
  const chosen = setLanguage(lang);
  document.documentElement.lang = chosen;
  $("#language").value = chosen;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of document.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = t(element.dataset.i18nPlaceholder);
  }
  for (const element of document.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
  player.updateLabels();
  if (state.currentJob) renderProgress(state.currentJob);
  if (state.currentAnimation) renderResultInfo();
  for (const job of state.jobs.values()) renderHistoryItem(job);
  applyPaletteLabels();
  syncForm();
}

const player = new Player($("#player"));

// ---------------------------------------------------------------- the current job

function renderProgress(job) {
  const panel = $("#progress-panel");
  panel.hidden = false;
  panel.dataset.status = job.status;
  panel.dataset.jobId = job.jobId;
  const loadingFrames = job.status === "completed" && !state.currentAnimation && !state.framesFailed;
  const progress = loadingFrames ? 99 : job.progress;
  panel.dataset.progress = String(progress);
  $("#progress-prompt").textContent = shortPrompt(job.prompt, 200);
  $("#status-text").textContent = loadingFrames ? t("messages").loadingFrames : messageFor(job);
  $("#progress-bar").value = progress;
  $("#progress-percent").textContent = `${progress}%`;
  $("#cancel").hidden = TERMINAL.has(job.status);
  renderElapsed();
}

function renderElapsed() {
  const job = state.currentJob;
  if (!job) return;
  const started = timeOf(job.createdAt);
  if (TERMINAL.has(job.status)) {
    const ended = timeOf(job.completedAt || job.updatedAt) || Date.now();
    $("#elapsed").textContent = t("took", formatDuration((ended - started) / 1000));
  } else {
    const elapsed = (Date.now() - started) / 1000;
    $("#elapsed").textContent = t("elapsed", formatDuration(elapsed), formatDuration(job.estimatedTimeSeconds));
  }
}

function renderResultInfo() {
  const animation = state.currentAnimation;
  const job = state.currentJob;
  $("#result-info").textContent = t("resultInfo", {
    width: animation.width,
    height: animation.height,
    frames: animation.frames.length,
    fps: animation.fps,
    colors: animation.palette?.length ?? job?.colorCount ?? "?",
  });
  // The frames come as the game plays them: a ping-pong loop's already go forward then back.
  const seam = job?.loop === "trim" && typeof job.seam === "number" ? t("seam", job.seam) : "";
  const loop = seam || (job?.loop === "pingpong" ? t("loopPingpong") : "");
  $("#loop-info").textContent = loop;
  $("#loop-info").hidden = !loop;
}

function showResult(animation) {
  state.currentAnimation = animation;
  $("#result-panel").hidden = false;
  player.load(animation);
  player.updateLabels();
  renderResultInfo();
  showDownloads(state.currentJob);
}

function onCurrentJob(job, apiJob) {
  if (apiJob.jobId !== state.currentId) return;
  // Merged with what is known: an event does not carry the job's place in line.
  const merged = upsertJob(apiJob);
  state.currentJob = merged;
  if (!TERMINAL.has(apiJob.status)) state.seenActive.add(apiJob.jobId);
  if (apiJob.status === "completed") {
    if (job.frames) {
      const { width, height, fps, palette, frames } = job;
      showResult({ width, height, fps, palette, frames });
    } else {
      state.framesFailed = true;
      toast({ kind: "error", title: t("framesFailed"), body: job.framesError || "" });
    }
  }
  renderProgress(merged);
  announce(apiJob);
  // Seen ending (or already ended) here: never announced again on a later visit.
  if (TERMINAL.has(apiJob.status) && !state.announced.has(apiJob.jobId)) markAnnounced(apiJob.jobId);
}

function showJob(jobId, { focus = false } = {}) {
  if (state.unsubscribeCurrent) state.unsubscribeCurrent();
  player.pause();
  player.playing = true;
  state.currentId = jobId;
  state.currentAnimation = null;
  state.framesFailed = false;
  storage.set(CURRENT_KEY, jobId);
  $("#result-panel").hidden = true;
  markCurrent(jobId);
  const known = state.jobs.get(jobId);
  state.currentJob = known || null;
  if (known) renderProgress(known);
  state.unsubscribeCurrent = pm.subscribeToVideoJob(jobId, onCurrentJob, {
    onError: (error) => {
      if (error.status === 401) signOut(t("tokenRefused"));
      else if (error.status === 404 && state.currentId === jobId) forgetCurrent();
    },
  });
  if (focus) $("#progress-panel").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

function forgetCurrent() {
  if (state.unsubscribeCurrent) state.unsubscribeCurrent();
  state.unsubscribeCurrent = null;
  state.currentId = null;
  state.currentJob = null;
  storage.set(CURRENT_KEY, null);
  $("#progress-panel").hidden = true;
  $("#result-panel").hidden = true;
}

function onAnyJob(job) {
  const merged = upsertJob(job);
  if (job.jobId !== state.currentId) announce(merged);
}

// ---------------------------------------------------------------- the form

/** Show the fields of what the form does now: a prompt, a video, or a re-render. */
function syncForm() {
  const parent = state.renderParent;
  const video = sourceMode() === "video";
  $("#source-field").hidden = Boolean(parent);
  $("#video-field").hidden = Boolean(parent) || !video;
  $("#prompt-field").hidden = Boolean(parent) || video;
  $("#render-of").hidden = !parent;
  $("#render-close").hidden = !parent;
  if (parent) $("#render-of-prompt").textContent = shortPrompt(parent.prompt, 120);
  $("#create-title").textContent = t(parent ? "rerenderTitle" : "createTitle");
  const generate = $("#generate");
  generate.dataset.i18n = parent ? "rerenderSubmit" : video ? "pixelate" : "generate";
  generate.textContent = t(generate.disabled ? generate.dataset.busy || "starting" : generate.dataset.i18n);
}

/** Re-render the current finished job: the canvas controls take its values. */
function openRerender() {
  const job = state.currentJob;
  if (!job || job.status !== "completed") return;
  clearInvalid();
  state.renderParent = job;
  prefillCanvas(job);
  syncForm();
  $(".create").scrollIntoView({ behavior: "smooth", block: "nearest" });
  $("#create-title").focus();
}

function closeRerender() {
  state.renderParent = null;
  clearInvalid();
  syncForm();
}

/** A re-render names every option (those left out keep the parent's): a palette the parent
 * had and the user took away is sent as null. */
function renderParams(parent) {
  const params = readCanvas({ full: true });
  if (params && !("palette" in params) && !("paletteFrom" in params) && (parent.palette || parent.paletteFrom)) {
    params.palette = null;
  }
  return params;
}

async function start(setBusy) {
  const parent = state.renderParent;
  if (parent) {
    const params = renderParams(parent);
    if (!params) return null;
    setBusy("starting");
    const started = await pm.render(parent.jobId, params);
    closeRerender();
    return started;
  }
  const form = readForm();
  if (!form) return null;
  const { params, file } = form;
  if (file) {
    setBusy("uploading");
    const { uploadId } = await pm.uploadVideo(file);
    params.source = { type: "upload", uploadId };
  }
  setBusy("starting");
  return pm.startVideoGeneration(params);
}

async function onGenerate(event) {
  event.preventDefault();
  clearInvalid();
  const button = $("#generate");
  const setBusy = (key) => {
    button.disabled = true;
    button.dataset.busy = key;
    button.textContent = t(key);
  };
  try {
    const started = await start(setBusy);
    if (!started) return;
    state.seenActive.add(started.jobId);
    // Followed at once: its first state (and the history's entry) come from the stream.
    showJob(started.jobId, { focus: true });
  } catch (error) {
    if (error.status === 401) {
      signOut(t("tokenRefused"));
    } else if ([400, 404, 409, 413, 415, 422].includes(error.status)) {
      const inputs = Object.keys(error.fields || {})
        .map((name) => FIELD_INPUTS[name] && $(FIELD_INPUTS[name]))
        .filter(Boolean);
      if (sourceMode() === "video" && !state.renderParent && !inputs.length) inputs.push($("#video"));
      markInvalid(inputs, error.message);
    } else {
      toast({ kind: "error", title: t("toastError"), body: error.message });
    }
  } finally {
    button.disabled = false;
    delete button.dataset.busy;
    button.textContent = t(button.dataset.i18n);
  }
}

// ---------------------------------------------------------------- sign-in

function stopStreams() {
  if (state.unsubscribeCurrent) state.unsubscribeCurrent();
  if (state.unsubscribeAll) state.unsubscribeAll();
  state.unsubscribeCurrent = null;
  state.unsubscribeAll = null;
}

function signOut(reason = "") {
  stopStreams();
  player.pause();
  state.token = null;
  storage.set(TOKEN_KEY, null);
  storage.set(CURRENT_KEY, null);
  clearHistory();
  state.currentId = null;
  state.currentJob = null;
  state.renderParent = null;
  $("#progress-panel").hidden = true;
  $("#result-panel").hidden = true;
  showSignIn(reason);
}

async function startSignedIn() {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#sign-out").hidden = false;
  pm.configure({ token: () => state.token });
  const stored = storage.get(CURRENT_KEY);
  if (stored && !state.announced.has(stored)) state.pendingAnnounce.add(stored);
  try {
    await loadHistory();
  } catch (error) {
    if (error.status === 401) {
      signOut(t("tokenRefused"));
      return;
    }
    toast({ kind: "error", title: t("toastError"), body: error.message });
  }
  state.unsubscribeAll = pm.subscribeToMyJobs(onAnyJob, {
    onError: async () => {
      try {
        await pm.listJobs({ limit: 1 });
      } catch (error) {
        if (error.status === 401) signOut(t("tokenRefused"));
      }
    },
  });
  if (stored) {
    showJob(stored);
    return;
  }
  const active = [...state.jobs.values()].find((job) => !TERMINAL.has(job.status));
  if (active) showJob(active.jobId);
}

// ---------------------------------------------------------------- wiring

function wire() {
  $("#language").addEventListener("change", (event) => {
    storage.set(LANG_KEY, event.target.value);
    applyLanguage(event.target.value);
  });
  $("#sign-out").addEventListener("click", () => signOut());
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("#token-input").value.trim();
    if (!token) return;
    storage.set(TOKEN_KEY, token);
    state.token = token;
    $("#token-input").value = "";
    startSignedIn();
  });
  $("#generate-form").addEventListener("submit", onGenerate);
  $("#prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("#generate-form").requestSubmit();
    }
  });
  wireControls();
  for (const radio of document.querySelectorAll('input[name="source"]')) {
    radio.addEventListener("change", syncForm);
  }
  $("#rerender").addEventListener("click", openRerender);
  $("#render-close").addEventListener("click", closeRerender);
  $("#cancel").addEventListener("click", async () => {
    if (!state.currentId) return;
    try {
      await pm.cancelJob(state.currentId);
    } catch (error) {
      if (error.status !== 409) toast({ kind: "error", title: t("toastError"), body: error.message });
    }
  });
  player.wire();
  wireDownloads({ refused: () => signOut(t("tokenRefused")) });
  $("#history-more").addEventListener("click", async () => {
    try {
      await loadHistory();
    } catch (error) {
      toast({ kind: "error", title: t("toastError"), body: error.message });
    }
  });
  setInterval(() => {
    if (state.currentJob && !TERMINAL.has(state.currentJob.status)) renderElapsed();
  }, 1000);
}

function main() {
  takeTokenFromAddress(TOKEN_KEY);
  loadAnnounced();
  initHistory(state, (jobId) => showJob(jobId, { focus: true }));
  wire();
  initPalette();
  applyLanguage(pickLanguage());
  state.token = storage.get(TOKEN_KEY);
  if (!state.token) {
    showSignIn();
    return;
  }
  startSignedIn();
}

main();
