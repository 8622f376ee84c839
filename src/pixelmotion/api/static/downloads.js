// The download buttons: one for each output the job has (its `outputs`), saved under names
// that keep the files working together (the sheet's JSON and the Godot resource name the
// sheet as it is saved). Plain ES module, no build step.
import * as pm from "./pixelmotion.js";
import { t } from "./texts.js";
import { $, toast } from "./ui.js";

// Output name → the file it is saved as (after the job's prefix).
const DOWNLOAD_NAMES = {
  gif: "animation.gif",
  sheet: "sheet.png",
  sheetJson: "sheet.json",
  aseprite: "animation.aseprite",
  webp: "animation.webp",
  apng: "animation.png",
  zip: "frames.zip",
  sheetHash: "sheet.hash.json",
  sheetArray: "sheet.array.json",
  godot: "animation.tres",
  frames: "frames.json",
};
const SHEET_JSON = new Set(["sheetJson", "sheetHash", "sheetArray"]);

let current = null; // the job whose outputs the buttons offer
let onRefused = () => {};

/** Show a button for each output the job has, and no other. */
export function showDownloads(job) {
  current = job;
  const outputs = job?.outputs || {};
  for (const button of document.querySelectorAll(".downloads button[data-output]")) {
    button.hidden = !outputs[button.dataset.output];
  }
}

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

async function pointAtSheet(name, blob, sheetName) {
  if (SHEET_JSON.has(name)) {
    const sheet = JSON.parse(await blob.text());
    if (sheet.meta) sheet.meta.image = sheetName;
    return new Blob([JSON.stringify(sheet, null, 2)], { type: "application/json" });
  }
  if (name === "godot") {
    // The resource names its texture by a path relative to itself.
    const text = (await blob.text()).replace(/(type="Texture2D" path=")[^"]*"/, `$1${sheetName}"`);
    return new Blob([text], { type: "text/plain" });
  }
  return blob;
}

async function onDownload(event) {
  const button = event.target.closest("button[data-output]");
  if (!button || !current) return;
  const name = button.dataset.output;
  const prefix = `pixelmotion-${current.jobId.slice(0, 8)}`;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const blob = await pm.fetchOutput(current, name);
    const saved = await pointAtSheet(name, blob, `${prefix}-${DOWNLOAD_NAMES.sheet}`);
    saveBlob(saved, `${prefix}-${DOWNLOAD_NAMES[name]}`);
  } catch (error) {
    if (error.status === 401) onRefused();
    else toast({ kind: "error", title: t("downloadFailed"), body: error.message });
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

export function wireDownloads({ refused }) {
  onRefused = refused;
  $(".downloads").addEventListener("click", onDownload);
}
