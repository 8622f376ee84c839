// The canvas controls of the form (size, colours or palette, fps, dither, fit, background,
// loop): read into a request, checked, and set from a job for a re-render. Plain ES module.
import { paletteChoice, prefillPalette } from "./palette.js";
import { t } from "./texts.js";
import { $ } from "./ui.js";

const SIZE_PRESETS = ["16", "32", "64", "128", "256"];

export function markInvalid(elements, message) {
  for (const element of elements) element.setAttribute("aria-invalid", "true");
  const error = $("#form-error");
  error.textContent = message;
  error.hidden = false;
  elements[0]?.focus();
}

export function clearInvalid() {
  for (const element of document.querySelectorAll("#generate-form [aria-invalid]")) {
    element.removeAttribute("aria-invalid");
  }
  $("#form-error").hidden = true;
}

function selectedSize() {
  const choice = document.querySelector('input[name="size"]:checked')?.value || "64";
  if (SIZE_PRESETS.includes(choice)) return { width: Number(choice), height: Number(choice) };
  return { width: Number($("#width").value), height: Number($("#height").value) };
}

export function syncCustomSize() {
  const custom = document.querySelector('input[name="size"]:checked')?.value === "custom";
  $("#custom-size").hidden = !custom;
  $("#width").disabled = !custom;
  $("#height").disabled = !custom;
}

/** Key colour and "subject" fit only mean something with the background removed. */
export function syncBackground() {
  const remove = $("#background").value === "remove";
  $("#key-field").hidden = !remove;
  const own = $("#key-own").checked;
  $("#key-color").disabled = !remove || !own;
  const subject = $('#fit option[value="subject"]');
  subject.disabled = !remove;
  if (!remove && $("#fit").value === "subject") $("#fit").value = "crop";
}

const inRange = (value, low, high) => Number.isInteger(value) && value >= low && value <= high;

/** The canvas options as the API takes them, or null (the form then says what is wrong).
 * A new job leaves out background and loop at their defaults; a re-render (`full`) names
 * every option, since what it leaves out keeps the parent's value. */
export function readCanvas({ full = false } = {}) {
  const { width, height } = selectedSize();
  if (!inRange(width, 8, 512) || !inRange(height, 8, 512)) {
    markInvalid([$("#width"), $("#height")], t("invalidSize"));
    return null;
  }
  const palette = paletteChoice();
  if (palette.error) {
    markInvalid([document.querySelector(palette.input)].filter(Boolean), palette.error);
    return null;
  }
  const params = { width, height, ...palette.body };
  if (!("palette" in palette.body) && !("paletteFrom" in palette.body)) {
    const colorCount = Number($("#colors").value);
    if (!inRange(colorCount, 2, 256)) {
      markInvalid([$("#colors")], t("invalidColors"));
      return null;
    }
    params.colorCount = colorCount;
  }
  Object.assign(params, {
    fps: Number($("#fps").value),
    dither: $("#dither").value,
    fit: $("#fit").value,
    background: $("#background").value,
    loop: $("#loop").value,
  });
  if (params.background === "remove" && $("#key-own").checked) params.keyColor = $("#key-color").value;
  if (!full) {
    if (params.background === "keep") delete params.background;
    if (params.loop === "none") delete params.loop;
  }
  return params;
}

function setSelect(selector, value) {
  const select = $(selector);
  if ([...select.options].some((option) => option.value === String(value))) select.value = String(value);
}

/** Set every canvas control from a job's values. */
export function prefillCanvas(job) {
  const square = job.width === job.height && SIZE_PRESETS.includes(String(job.width));
  const size = document.getElementById(square ? `size-${job.width}` : "size-custom");
  size.checked = true;
  $("#width").value = String(job.width);
  $("#height").value = String(job.height);
  syncCustomSize();
  $("#colors").disabled = false;
  $("#colors").value = String(job.colorCount ?? 16);
  $("#colors").dataset.own = $("#colors").value;
  setSelect("#fps", job.fps);
  setSelect("#dither", job.dither);
  setSelect("#background", job.background || "keep");
  $("#key-own").checked = Boolean(job.keyColor);
  if (job.keyColor) $("#key-color").value = job.keyColor;
  syncBackground();
  setSelect("#fit", job.fit);
  // Older jobs say loop true/false (the model's own loop flag): no loop treatment.
  setSelect("#loop", typeof job.loop === "string" ? job.loop : "none");
  prefillPalette(job);
}

export function wireControls() {
  for (const radio of document.querySelectorAll('input[name="size"]')) {
    radio.addEventListener("change", syncCustomSize);
  }
  $("#background").addEventListener("change", syncBackground);
  $("#key-own").addEventListener("change", syncBackground);
  syncCustomSize();
  syncBackground();
}

export function sourceMode() {
  return document.querySelector('input[name="source"]:checked')?.value === "video" ? "video" : "prompt";
}

/** The prompt or video of a new job and its canvas options: {params, file}, or null. */
export function readForm() {
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
  const canvas = readCanvas();
  return canvas && { params: { prompt, ...canvas }, file };
}

export const FIELD_INPUTS = {
  prompt: "#prompt",
  width: "#width",
  height: "#height",
  colorCount: "#colors",
  fps: "#fps",
  source: "#video",
  "source.uploadId": "#video",
  // The input of the palette choice shown: the pasted colours, the file, or the preset.
  palette: ['textarea', 'input[type="file"]', "input:checked"]
    .map((input) => `[data-palette-panel]:not([hidden]) ${input}`)
    .join(", "),
  paletteFrom: "#palette-job",
  keyColor: "#key-color",
  background: "#background",
  fit: "#fit",
  loop: "#loop",
};
