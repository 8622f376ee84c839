// The list of the user's jobs, kept live: each with its state, its progress and, for a
// re-render, a link to the job it was made from. Plain ES module, no build step.
import * as pm from "./pixelmotion.js";
import { setPaletteJobs } from "./palette.js";
import { statusLabel, t } from "./texts.js";
import { $, TERMINAL, formatWhen, shortPrompt, timeOf } from "./ui.js";

let state = null; // the page's state (jobs, currentId, seenActive, nextCursor)
let open = () => {}; // shows a job: open(jobId)

export function initHistory(pageState, openJob) {
  state = pageState;
  open = openJob;
}

function historyItem(jobId) {
  return document.querySelector(`.history-item[data-job-id="${CSS.escape(jobId)}"]`);
}

function completedJobs() {
  return [...state.jobs.values()]
    .filter((job) => job.status === "completed")
    .sort((a, b) => timeOf(b.createdAt) - timeOf(a.createdAt));
}

/** Merge a job's newer state into what is known, and show it. Returns the merged job. */
export function upsertJob(job) {
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
  if (job.status === "completed" && known?.status !== "completed") setPaletteJobs(completedJobs());
  return merged;
}

function newItem(job) {
  const item = document.createElement("li");
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
  const parent = document.createElement("p");
  parent.className = "item-parent";
  parent.hidden = true;
  const parentLabel = document.createElement("span");
  const parentLink = document.createElement("button");
  parentLink.type = "button";
  parentLink.className = "link";
  parentLink.addEventListener("click", () => {
    const parentId = historyItem(job.jobId)?.dataset.parentJobId;
    if (parentId) open(parentId);
  });
  parent.append(parentLabel, " ", parentLink);
  const actions = document.createElement("div");
  actions.className = "item-actions";
  const openButton = document.createElement("button");
  openButton.type = "button";
  openButton.className = "item-open";
  openButton.addEventListener("click", () => open(job.jobId));
  actions.append(openButton);
  const progress = document.createElement("progress");
  progress.max = 100;
  item.append(prompt, actions, meta, parent, progress);
  const list = $("#history");
  const created = timeOf(job.createdAt);
  const before = [...list.children].find((other) => timeOf(other.dataset.createdAt) < created);
  list.insertBefore(item, before || null);
  return item;
}

function renderParent(item, job) {
  const parent = item.querySelector(".item-parent");
  parent.hidden = !job.parentJobId;
  if (!job.parentJobId) return;
  item.dataset.parentJobId = job.parentJobId;
  const known = state.jobs.get(job.parentJobId);
  parent.firstChild.textContent = t("rerenderOf");
  const link = parent.querySelector(".link");
  link.textContent = known ? shortPrompt(known.prompt, 60) : job.parentJobId.slice(0, 8);
  link.dataset.parentJobId = job.parentJobId;
}

export function renderHistoryItem(job) {
  const item = historyItem(job.jobId) || newItem(job);
  item.dataset.status = job.status;
  item.classList.toggle("current", job.jobId === state.currentId);
  const promptText = shortPrompt(job.prompt, 140);
  item.querySelector(".item-prompt").textContent = promptText;
  const badge = item.querySelector(".badge");
  badge.dataset.status = job.status;
  badge.textContent = ["processing", "dreaming", "queued"].includes(job.status)
    ? `${statusLabel(job.status)} ${job.progress}%`
    : statusLabel(job.status);
  item.querySelector(".item-details").textContent = t("meta", {
    width: job.width,
    height: job.height,
    fps: job.fps,
    when: formatWhen(job.createdAt),
  });
  renderParent(item, job);
  const openButton = item.querySelector(".item-open");
  openButton.textContent = t("open");
  openButton.setAttribute("aria-label", t("openJob", promptText));
  const progress = item.querySelector("progress");
  progress.hidden = TERMINAL.has(job.status);
  progress.value = job.progress;
  progress.setAttribute("aria-label", `${statusLabel(job.status)} ${job.progress}%`);
  $("#history-empty").hidden = true;
}

export function markCurrent(jobId) {
  for (const item of document.querySelectorAll(".history-item")) {
    item.classList.toggle("current", item.dataset.jobId === jobId);
  }
}

export async function loadHistory() {
  const page = await pm.listJobs({ limit: 20, cursor: state.nextCursor || undefined });
  for (const job of page.jobs) upsertJob(job);
  state.nextCursor = page.nextCursor;
  $("#history-more").hidden = !page.nextCursor;
  $("#history-empty").hidden = state.jobs.size > 0;
}

export function clearHistory() {
  state.jobs.clear();
  state.nextCursor = null;
  $("#history").replaceChildren();
  setPaletteJobs([]);
}
