// Small pieces every part of the page uses: element lookup, browser storage, toasts and
// formatting. Plain ES module, no build step.
import { currentLanguage, t } from "./texts.js";

export const $ = (selector) => document.querySelector(selector);

export const TERMINAL = new Set(["completed", "failed", "canceled"]);

export const storage = {
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

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(s / 60);
  return `${minutes}:${String(s % 60).padStart(2, "0")}`;
}

export function formatWhen(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const locale = currentLanguage() === "ko" ? "ko-KR" : "en";
  return date.toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
}

export function timeOf(iso) {
  const value = Date.parse(iso);
  return Number.isNaN(value) ? 0 : value;
}

export function shortPrompt(prompt, length = 80) {
  const text = String(prompt || "").replace(/\s+/g, " ").trim();
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** A row of colour swatches (a list of "#rrggbb"); the colours go through the CSSOM, which
 * the page's style-src policy allows (a style attribute would not be). */
export function swatchRow(colors, { limit = 64 } = {}) {
  const row = document.createElement("span");
  row.className = "swatches";
  row.setAttribute("aria-hidden", "true");
  for (const color of colors.slice(0, limit)) {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = color;
    swatch.dataset.color = color;
    row.append(swatch);
  }
  return row;
}

export function toast({ kind = "info", title, body = "", action = null, timeoutMs = null }) {
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

/** Keep a `?token=` of the address in storage (under `key`) and drop it from the address bar. */
export function takeTokenFromAddress(key) {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token === null) return;
  url.searchParams.delete("token");
  history.replaceState(history.state, "", `${url.pathname}${url.search}${url.hash}`);
  if (token.trim()) storage.set(key, token.trim());
}

export function showSignIn(reason = "") {
  $("#app").hidden = true;
  $("#sign-out").hidden = true;
  $("#signin").hidden = false;
  const why = $("#signin-reason");
  why.textContent = reason;
  why.hidden = !reason;
}
