// The palette picker: the clip's own colours, a preset, pasted hex colours, a palette file
// (.gpl, .hex, .pal or a PNG of swatches) or the palette of an earlier job. With a palette
// chosen, the colour count is the palette's size. Plain ES module, no build step.
import { t } from "./texts.js";
import { $, shortPrompt, swatchRow } from "./ui.js";

const MAX_COLORS = 256;
const MAX_FILE_BYTES = 1024 * 1024;
const HEX = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i;

const picker = {
  presets: {}, // name -> ["#rrggbb", ...], from palettes.json (kept equal to the server's presets)
  file: null, // {filename, base64, colors} once a file is read
  fileError: null,
  jobs: [], // the user's completed jobs, newest first
};

const mode = () => document.querySelector('input[name="palette-mode"]:checked')?.value || "auto";

/** "#abc", "aabbcc", "#AABBCC" → "#aabbcc"; null when not a colour. */
export function normalizeHex(token) {
  const match = HEX.exec(String(token).trim());
  if (!match) return null;
  const digits = match[1].length === 3 ? [...match[1]].map((c) => c + c).join("") : match[1];
  return `#${digits.toLowerCase()}`;
}

/** Pasted text → {colors} or {error}: colours split by spaces, commas, semicolons or lines. */
export function parseHexList(text) {
  const tokens = String(text).split(/[\s,;]+/).filter(Boolean);
  if (!tokens.length) return { error: t("paletteEmpty") };
  const colors = [];
  for (const token of tokens) {
    const color = normalizeHex(token);
    if (!color) return { error: t("paletteBadColor", token.slice(0, 20)) };
    if (!colors.includes(color)) colors.push(color);
  }
  if (colors.length > MAX_COLORS) return { error: t("paletteTooMany", MAX_COLORS) };
  return { colors };
}

const rgbHex = (r, g, b) => `#${[r, g, b].map((v) => Number(v).toString(16).padStart(2, "0")).join("")}`;

/** The colours of a text palette file, for the preview (the server reads the file itself). */
function colorsOfText(filename, text) {
  const colors = [];
  const add = (color) => color && !colors.includes(color) && colors.push(color);
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  if (filename.endsWith(".hex")) {
    for (const line of lines) if (line) add(normalizeHex(line));
    return colors;
  }
  const triple = /^(\d{1,3})\s+(\d{1,3})\s+(\d{1,3})(\s|$)/;
  // GIMP .gpl: a header, then "R G B name"; JASC .pal: "JASC-PAL", "0100", a count, then "R G B".
  const body = filename.endsWith(".pal") ? lines.slice(3) : lines;
  for (const line of body) {
    const match = triple.exec(line);
    if (match && match.slice(1, 4).every((v) => Number(v) <= 255)) add(rgbHex(match[1], match[2], match[3]));
  }
  return colors;
}

async function colorsOfImage(file) {
  const bitmap = await createImageBitmap(file);
  const canvas = document.createElement("canvas");
  canvas.width = Math.min(bitmap.width, 1024);
  canvas.height = Math.min(bitmap.height, 1024);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const colors = new Set();
  for (let i = 0; i < data.length && colors.size <= MAX_COLORS; i += 4) {
    if (data[i + 3] === 255) colors.add(rgbHex(data[i], data[i + 1], data[i + 2]));
  }
  return [...colors];
}

function base64Of(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

async function readPaletteFile(file) {
  picker.file = null;
  picker.fileError = null;
  if (!file) return;
  const filename = file.name.toLowerCase();
  if (![".gpl", ".hex", ".pal", ".png"].some((ext) => filename.endsWith(ext))) {
    picker.fileError = t("paletteFileType");
  } else if (file.size > MAX_FILE_BYTES) {
    picker.fileError = t("paletteFileTooBig");
  } else {
    const buffer = await file.arrayBuffer();
    let colors = [];
    try {
      colors = filename.endsWith(".png")
        ? await colorsOfImage(file)
        : colorsOfText(filename, new TextDecoder().decode(buffer));
    } catch {
      colors = [];
    }
    if (!colors.length) picker.fileError = t("paletteFileEmpty");
    else if (colors.length > MAX_COLORS) picker.fileError = t("paletteTooMany", MAX_COLORS);
    else picker.file = { filename: file.name, base64: base64Of(buffer), colors };
  }
}

function showPreview(selector, colors) {
  const target = $(selector);
  target.replaceChildren(...(colors?.length ? [swatchRow(colors, { limit: MAX_COLORS })] : []));
  target.dataset.count = String(colors?.length || 0);
}

function showError(selector, message) {
  const error = $(selector);
  error.textContent = message || "";
  error.hidden = !message;
}

/** What the request gets from the picker: {body, size, colors} or {error, input}. */
export function paletteChoice() {
  const chosen = mode();
  if (chosen === "preset") {
    const name = $("#palette-preset").querySelector("input:checked")?.value;
    if (!name) return { error: t("palettePickPreset"), input: "#palette-preset input" };
    return { body: { palette: name }, colors: picker.presets[name] || [] };
  }
  if (chosen === "hex") {
    const parsed = parseHexList($("#palette-hex").value);
    if (parsed.error) return { error: parsed.error, input: "#palette-hex" };
    return { body: { palette: parsed.colors }, colors: parsed.colors };
  }
  if (chosen === "file") {
    if (!picker.file) return { error: picker.fileError || t("palettePickFile"), input: "#palette-file" };
    const { base64, filename, colors } = picker.file;
    return { body: { palette: { file: base64, filename } }, colors };
  }
  if (chosen === "job") {
    const jobId = $("#palette-job").value;
    if (!jobId) return { error: t("palettePickJob"), input: "#palette-job" };
    const job = picker.jobs.find((item) => item.jobId === jobId);
    return { body: { paletteFrom: jobId }, colors: Array.isArray(job?.palette) ? job.palette : null };
  }
  return { body: {}, colors: null };
}

/** Show the chosen mode's panel, its swatches and message, and lock the colour count to the
 * palette's size while a palette is chosen. */
export function syncPalette() {
  const chosen = mode();
  for (const panel of document.querySelectorAll("[data-palette-panel]")) {
    panel.hidden = panel.dataset.palettePanel !== chosen;
  }
  const hexText = $("#palette-hex").value;
  const hex = hexText.trim() ? parseHexList(hexText) : {};
  showPreview("#palette-hex-preview", hex.colors);
  showError("#palette-hex-error", hex.error);
  $("#palette-hex").toggleAttribute("aria-invalid", Boolean(hex.error));
  showPreview("#palette-file-preview", picker.file?.colors);
  showError("#palette-file-error", picker.fileError);
  const choice = paletteChoice();
  showPreview("#palette-job-preview", chosen === "job" ? choice.colors : null);
  const colors = $("#colors");
  const locked = chosen !== "auto";
  if (locked && !colors.disabled) colors.dataset.own = colors.value;
  colors.disabled = locked;
  const size = choice.colors?.length;
  if (locked) colors.value = size ? String(size) : "";
  else if (colors.dataset.own) colors.value = colors.dataset.own;
  $("#colors-hint").textContent = locked ? (size ? t("paletteSize", size) : t("paletteSizeUnknown")) : "";
  $("#colors-hint").hidden = !locked;
}

function renderPresets() {
  const list = $("#palette-preset");
  const checked = list.querySelector("input:checked")?.value || "pico8";
  list.replaceChildren();
  for (const [name, colors] of Object.entries(picker.presets)) {
    const id = `palette-preset-${name}`;
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "palette-preset";
    input.id = id;
    input.value = name;
    input.checked = name === checked;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.className = "preset";
    const title = document.createElement("span");
    title.className = "preset-name";
    title.textContent = t("presetName", name, colors.length);
    label.append(title, swatchRow(colors));
    list.append(input, label);
  }
}

/** The completed jobs offered under "palette of an earlier job" (newest first). */
export function setPaletteJobs(jobs) {
  picker.jobs = jobs;
  const select = $("#palette-job");
  const chosen = select.value;
  const options = [new Option(t("palettePickJob"), "")];
  for (const job of jobs) {
    const option = new Option(`${shortPrompt(job.prompt, 60)} · ${job.width}×${job.height}`, job.jobId);
    options.push(option);
  }
  select.replaceChildren(...options);
  if (jobs.some((job) => job.jobId === chosen)) select.value = chosen;
  if (mode() === "job") syncPalette();
}

/** Set the picker from a job's values (a re-render starts from its parent's palette). */
export function prefillPalette(job) {
  const palette = job.palette;
  let chosen = "auto";
  if (job.paletteFrom) {
    chosen = "job";
    $("#palette-job").value = job.paletteFrom;
  } else if (typeof palette === "string" && picker.presets[palette]) {
    chosen = "preset";
    const radio = document.getElementById(`palette-preset-${palette}`);
    if (radio) radio.checked = true;
  } else if (Array.isArray(palette) && palette.length) {
    chosen = "hex";
    $("#palette-hex").value = palette.join(" ");
  } else if (typeof palette === "string" && palette.trim()) {
    chosen = "hex";
    $("#palette-hex").value = palette;
  }
  document.getElementById(`palette-mode-${chosen}`).checked = true;
  syncPalette();
}

export function applyPaletteLabels() {
  renderPresets();
  setPaletteJobs(picker.jobs);
  syncPalette();
}

export async function initPalette() {
  for (const radio of document.querySelectorAll('input[name="palette-mode"]')) {
    radio.addEventListener("change", syncPalette);
  }
  $("#palette-hex").addEventListener("input", syncPalette);
  $("#palette-preset").addEventListener("change", syncPalette);
  $("#palette-job").addEventListener("change", syncPalette);
  $("#palette-file").addEventListener("change", async (event) => {
    await readPaletteFile(event.target.files?.[0] || null);
    syncPalette();
  });
  try {
    const response = await fetch(new URL("./palettes.json", import.meta.url), { cache: "no-cache" });
    picker.presets = await response.json();
  } catch {
    picker.presets = {};
  }
  renderPresets();
  syncPalette();
}
