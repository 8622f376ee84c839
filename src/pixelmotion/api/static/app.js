// pixelmotion's page: a form that starts a generation, its live progress, the result playing
// in a canvas, downloads, and the user's jobs kept live. Plain ES module, no build step.
import * as pm from "./pixelmotion.js";
import { Player } from "./player.js";
import { TEXT, currentLanguage, messageFor, setLanguage, statusLabel, t } from "./texts.js";

const TOKEN_KEY = "pixelmotion.token";
const LANG_KEY = "pixelmotion.lang";
const CURRENT_KEY = "pixelmotion.current";
const ANNOUNCED_KEY = "pixelmotion.announced";
const TERMINAL = new Set(["completed", "failed", "canceled"]);
const SIZE_PRESETS = ["16", "32", "64", "128", "256"];

// ---------------------------------------------------------------- small helpers

const $ = (selector) => document.querySelector(selector);

const storage = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      if (value === null || value === undefined) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch {
      // Storage refused (private mode): the page still works for this visit.
    }
  },
};

const state = {
  token: null,
  jobs: new Map(), // jobId -> the API's job JSON, the newest seen
  nextCursor: null,
  currentId: null,
  currentJob: null, // the current job's API JSON
  currentAnimation: null,
  unsubscribeCurrent: null,
  unsubscribeAll: null,
  seenActive: new Set(), // jobs seen unfinished during this visit: their end is announced
  announced: new Set(),
  pendingAnnounce: new Set(),
};

function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(s / 60);
  return `${minutes}:${String(s % 60).padStart(2, "0")}`;
}

function formatWhen(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const locale = currentLanguage() === "ko" ? "ko-KR" : "en";
  return date.toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
}

function timeOf(iso) {
  const value = Date.parse(iso);
  return Number.isNaN(value) ? 0 : value;
}

function shortPrompt(prompt, length = 80) {
  const text = String(prompt || "").replace(/\s+/g, " ").trim();
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

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

// ---------------------------------------------------------------- toasts

function toast({ kind = "info", title, body = "", action = null, timeoutMs = null }) {
  const element = document.createElement("div");
  element.className = `toast ${kind}`;
  element.setAttribute("role", kind === "error" ? "alert" : "status");
  const text = document.createElement("div");
  text.className = "toast-body";
  const heading = document.createElement("strong");
  heading.className = "toast-title";
  heading.textContent = title;
  text.append(heading);
  if (body) {
    const detail = document.createElement("span");
    detail.className = "toast-detail";
    detail.textContent = body;
    text.append(detail);
  }
  element.append(text);
  if (action) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action.label;
    button.addEventListener("click", () => {
      action.run();
      element.remove();
    });
    element.append(button);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.textContent = "×";
  close.setAttribute("aria-label", t("dismiss"));
  close.addEventListener("click", () => element.remove());
  element.append(close);
  $("#toasts").append(element);
  const lifetime = timeoutMs ?? (kind === "error" ? 20000 : 8000);
  setTimeout(() => element.remove(), lifetime);
  return element;
}

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
  const generate = $("#generate");
  if (generate.disabled) generate.textContent = t(generate.dataset.busy || "starting");
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
}

function showResult(animation) {
  state.currentAnimation = animation;
  $("#result-panel").hidden = false;
  player.load(animation);
  player.updateLabels();
  renderResultInfo();
}

function onCurrentJob(job, apiJob) {
  if (apiJob.jobId !== state.currentId) return;
  // Merged with what is known: an event does not carry the job's place in line.
  const merged = upsertJob(apiJob);
  state.currentJob = merged;
  if (!TERMINAL.has(apiJob.status)) state.seenActive.add(apiJob.jobId);
  if (apiJob.status === "completed") {
    if (job.frames) {
      showResult({ width: job.width, height: job.height, fps: job.fps, palette: job.palette, frames: job.frames });
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
  for (const item of document.querySelectorAll(".history-item")) {
    item.classList.toggle("current", item.dataset.jobId === jobId);
  }
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

// ---------------------------------------------------------------- history

function upsertJob(job) {
  const known = state.jobs.get(job.jobId);
  if (known && timeOf(job.updatedAt) < timeOf(known.updatedAt)) return known;
  // An event carries the job as it was then; keep what only the full job knows.
  const merged = known ? { ...known, ...job } : job;
  if (known && job.status === known.status && !Object.keys(job.outputs || {}).length) {
    merged.outputs = known.outputs;
  }
  state.jobs.set(job.jobId, merged);
  if (!TERMINAL.has(job.status)) state.seenActive.add(job.jobId);
  renderHistoryItem(merged);
  return merged;
}

function historyItem(jobId) {
  return document.querySelector(`.history-item[data-job-id="${CSS.escape(jobId)}"]`);
}

function renderHistoryItem(job) {
  const list = $("#history");
  let item = historyItem(job.jobId);
  if (!item) {
    item = document.createElement("li");
    item.className = "history-item";
    item.dataset.jobId = job.jobId;
    item.dataset.createdAt = job.createdAt;
    const prompt = document.createElement("p");
    prompt.className = "item-prompt";
    const meta = document.createElement("p");
    meta.className = "item-meta";
    const badge = document.createElement("span");
    badge.className = "badge";
    const details = document.createElement("span");
    details.className = "item-details";
    meta.append(badge, " ", details);
    const actions = document.createElement("div");
    actions.className = "item-actions";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "item-open";
    open.addEventListener("click", () => showJob(job.jobId, { focus: true }));
    actions.append(open);
    const progress = document.createElement("progress");
    progress.max = 100;
    item.append(prompt, actions, meta, progress);
    const created = timeOf(job.createdAt);
    const before = [...list.children].find((other) => timeOf(other.dataset.createdAt) < created);
    list.insertBefore(item, before || null);
  }
  item.dataset.status = job.status;
  item.classList.toggle("current", job.jobId === state.currentId);
  const promptText = shortPrompt(job.prompt, 140);
  item.querySelector(".item-prompt").textContent = promptText;
  const badge = item.querySelector(".badge");
  badge.dataset.status = job.status;
  badge.textContent = job.status === "processing" || job.status === "dreaming" || job.status === "queued"
    ? `${statusLabel(job.status)} ${job.progress}%`
    : statusLabel(job.status);
  item.querySelector(".item-details").textContent = t("meta", {
    width: job.width,
    height: job.height,
    fps: job.fps,
    when: formatWhen(job.createdAt),
  });
  const open = item.querySelector(".item-open");
  open.textContent = t("open");
  open.setAttribute("aria-label", t("openJob", promptText));
  const progress = item.querySelector("progress");
  progress.hidden = TERMINAL.has(job.status);
  progress.value = job.progress;
  progress.setAttribute("aria-label", `${statusLabel(job.status)} ${job.progress}%`);
  $("#history-empty").hidden = true;
}

async function loadHistory() {
  const page = await pm.listJobs({ limit: 20, cursor: state.nextCursor || undefined });
  for (const job of page.jobs) upsertJob(job);
  state.nextCursor = page.nextCursor;
  $("#history-more").hidden = !page.nextCursor;
  $("#history-empty").hidden = state.jobs.size > 0;
}

function onAnyJob(job) {
  const merged = upsertJob(job);
  if (job.jobId !== state.currentId) announce(merged);
}

// ---------------------------------------------------------------- the form

function selectedSize() {
  const choice = document.querySelector('input[name="size"]:checked')?.value || "64";
  if (SIZE_PRESETS.includes(choice)) return { width: Number(choice), height: Number(choice) };
  return { width: Number($("#width").value), height: Number($("#height").value) };
}

function syncCustomSize() {
  const custom = document.querySelector('input[name="size"]:checked')?.value === "custom";
  $("#custom-size").hidden = !custom;
  $("#width").disabled = !custom;
  $("#height").disabled = !custom;
}

function sourceMode() {
  return document.querySelector('input[name="source"]:checked')?.value === "video" ? "video" : "prompt";
}

function syncSource() {
  const video = sourceMode() === "video";
  $("#video-field").hidden = !video;
  $("#prompt-field").hidden = video;
  const generate = $("#generate");
  generate.dataset.i18n = video ? "pixelate" : "generate";
  if (!generate.disabled) generate.textContent = t(generate.dataset.i18n);
}

function markInvalid(elements, message) {
  for (const element of elements) element.setAttribute("aria-invalid", "true");
  const error = $("#form-error");
  error.textContent = message;
  error.hidden = false;
  elements[0]?.focus();
}

function clearInvalid() {
  for (const element of document.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
  $("#form-error").hidden = true;
}

function readForm() {
  let prompt = $("#prompt").value.trim();
  let file = null;
  if (sourceMode() === "video") {
    file = $("#video").files?.[0] || null;
    if (!file) {
      markInvalid([$("#video")], t("invalidVideo"));
      return null;
    }
    // The job's title in the history: the file's name.
    prompt = file.name.length >= 3 ? file.name.slice(0, 200) : undefined;
  } else if (prompt.length < 3 || prompt.length > 5000) {
    markInvalid([$("#prompt")], t("invalidPrompt"));
    return null;
  }
  const { width, height } = selectedSize();
  const inRange = (value, low, high) => Number.isInteger(value) && value >= low && value <= high;
  if (!inRange(width, 8, 512) || !inRange(height, 8, 512)) {
    markInvalid([$("#width"), $("#height")], t("invalidSize"));
    return null;
  }
  const colorCount = Number($("#colors").value);
  if (!inRange(colorCount, 2, 256)) {
    markInvalid([$("#colors")], t("invalidColors"));
    return null;
  }
  const params = {
    prompt,
    width,
    height,
    colorCount,
    fps: Number($("#fps").value),
    dither: $("#dither").value,
    fit: $("#fit").value,
  };
  return { params, file };
}

const FIELD_INPUTS = {
  prompt: "#prompt",
  width: "#width",
  height: "#height",
  colorCount: "#colors",
  fps: "#fps",
  source: "#video",
  "source.uploadId": "#video",
};

async function onGenerate(event) {
  event.preventDefault();
  clearInvalid();
  const form = readForm();
  if (!form) return;
  const { params, file } = form;
  const button = $("#generate");
  button.disabled = true;
  const setBusy = (key) => {
    button.dataset.busy = key;
    button.textContent = t(key);
  };
  try {
    if (file) {
      setBusy("uploading");
      const { uploadId } = await pm.uploadVideo(file);
      params.source = { type: "upload", uploadId };
    }
    setBusy("starting");
    const started = await pm.startVideoGeneration(params);
    state.seenActive.add(started.jobId);
    // Followed at once: its first state (and the history's entry) come from the stream.
    showJob(started.jobId, { focus: true });
  } catch (error) {
    if (error.status === 401) {
      signOut(t("tokenRefused"));
    } else if ([400, 413, 415, 422].includes(error.status)) {
      const inputs = Object.keys(error.fields || {})
        .map((name) => FIELD_INPUTS[name] && $(FIELD_INPUTS[name]))
        .filter(Boolean);
      if (file && !inputs.length) inputs.push($("#video"));
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

// ---------------------------------------------------------------- downloads

const DOWNLOAD_NAMES = {
  gif: "animation.gif",
  sheet: "sheet.png",
  sheetJson: "sheet.json",
  frames: "frames.json",
};

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function onDownload(event) {
  const button = event.target.closest("button[data-output]");
  if (!button || !state.currentId) return;
  const name = button.dataset.output;
  const prefix = `pixelmotion-${state.currentId.slice(0, 8)}`;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    let blob = await pm.fetchOutput(state.currentId, name);
    if (name === "sheetJson") {
      // Point the sheet's JSON at the file name the sheet is saved under.
      const sheet = JSON.parse(await blob.text());
      if (sheet.meta) sheet.meta.image = `${prefix}-${DOWNLOAD_NAMES.sheet}`;
      blob = new Blob([JSON.stringify(sheet, null, 2)], { type: "application/json" });
    }
    saveBlob(blob, `${prefix}-${DOWNLOAD_NAMES[name]}`);
  } catch (error) {
    if (error.status === 401) signOut(t("tokenRefused"));
    else toast({ kind: "error", title: t("downloadFailed"), body: error.message });
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// ---------------------------------------------------------------- sign-in

function takeTokenFromAddress() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  url.searchParams.delete("token");
  history.replaceState(history.state, "", `${url.pathname}${url.search}${url.hash}`);
  if (token.trim()) storage.set(TOKEN_KEY, token.trim());
}

function stopStreams() {
  if (state.unsubscribeCurrent) state.unsubscribeCurrent();
  if (state.unsubscribeAll) state.unsubscribeAll();
  state.unsubscribeCurrent = null;
  state.unsubscribeAll = null;
}

function showSignIn(reason = "") {
  $("#app").hidden = true;
  $("#sign-out").hidden = true;
  $("#signin").hidden = false;
  const why = $("#signin-reason");
  why.textContent = reason;
  why.hidden = !reason;
}

function signOut(reason = "") {
  stopStreams();
  player.pause();
  state.token = null;
  storage.set(TOKEN_KEY, null);
  storage.set(CURRENT_KEY, null);
  state.jobs.clear();
  state.nextCursor = null;
  state.currentId = null;
  state.currentJob = null;
  $("#history").replaceChildren();
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
  for (const radio of document.querySelectorAll('input[name="size"]')) {
    radio.addEventListener("change", syncCustomSize);
  }
  for (const radio of document.querySelectorAll('input[name="source"]')) {
    radio.addEventListener("change", syncSource);
  }
  $("#cancel").addEventListener("click", async () => {
    if (!state.currentId) return;
    try {
      await pm.cancelJob(state.currentId);
    } catch (error) {
      if (error.status !== 409) toast({ kind: "error", title: t("toastError"), body: error.message });
    }
  });
  $("#play").addEventListener("click", () => player.toggle());
  $("#prev-frame").addEventListener("click", () => player.step(-1));
  $("#next-frame").addEventListener("click", () => player.step(1));
  $("#zoom").addEventListener("input", (event) => player.setZoom(Number(event.target.value)));
  $("#onion").addEventListener("change", (event) => player.setOnionSkin(event.target.checked));
  $("#stage").addEventListener("keydown", (event) => {
    const keys = {
      " ": () => player.toggle(),
      k: () => player.toggle(),
      ArrowLeft: () => player.step(-1),
      ArrowRight: () => player.step(1),
      "+": () => player.setZoom(player.zoom + 1),
      "=": () => player.setZoom(player.zoom + 1),
      "-": () => player.setZoom(player.zoom - 1),
      o: () => player.setOnionSkin(!player.onionSkin),
    };
    const action = keys[event.key];
    if (action && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      action();
    }
  });
  $(".downloads").addEventListener("click", onDownload);
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
  takeTokenFromAddress();
  loadAnnounced();
  wire();
  syncCustomSize();
  syncSource();
  applyLanguage(pickLanguage());
  state.token = storage.get(TOKEN_KEY);
  if (!state.token) {
    showSignIn();
    return;
  }
  startSignedIn();
}

main();
