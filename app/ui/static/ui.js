// What every page shares: a small element builder, the API key prompt, status badges,
// progress bars and number/time formats.
import { api, apiKey, ApiError, config, onUnauthorized, setApiKey } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const root = () => document.getElementById("app");

export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintNode = hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

const STATUS = {
  pending: ["◷", "Pending"],
  running: ["▶", "Running"],
  completed: ["✔", "Completed"],
  failed: ["✖", "Failed"],
  cancelled: ["■", "Cancelled"],
};
export const TERMINAL = new Set(["completed", "failed", "cancelled"]);

// Colour is never the only signal: every badge has an icon and its word.
export function statusBadge(status) {
  const [icon, word] = STATUS[status] || ["?", status];
  return h(
    "span",
    { class: `badge status-${status}`, "data-status": status },
    h("span", { "aria-hidden": "true" }, icon),
    ` ${word}`,
  );
}

export function progressBar(progress, label = "Progress") {
  const value = Math.max(0, Math.min(100, Number(progress) || 0));
  const bar = h("span", { class: "bar" });
  bar.style.width = `${value}%`;
  return h(
    "span",
    {
      class: "progress",
      role: "progressbar",
      "aria-label": label,
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": Math.round(value),
    },
    h("span", { class: "track" }, bar),
    h("span", { class: "pct" }, `${Math.floor(value)}%`),
  );
}

export function fmtNumber(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return String(Number(value.toFixed(digits)));
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 10) return `${Number(seconds.toFixed(1))}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function fmtAge(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  return `${fmtDuration(Math.max(0, seconds))} ago`;
}

export function fmtBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function time(iso) {
  return h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

const PRIMARY = ["validation_accuracy", "validation_r2", "validation_f1_macro", "validation_rmse"];
// The headline metric of a job: its validation accuracy (classification) or R² (regression).
export function bestMetric(job) {
  const metrics = job.metrics || {};
  const name = PRIMARY.find((candidate) => candidate in metrics);
  return name ? `${name.replace("validation_", "")} ${fmtNumber(metrics[name])}` : "—";
}

export function problemText(error) {
  if (!(error instanceof ApiError)) return String(error.message || error);
  const lines = [error.message];
  for (const item of error.problem.errors || []) {
    lines.push(`${item.field || (item.loc || []).join(".")}: ${item.message || item.msg}`);
  }
  return lines.join("\n");
}

export function alertBox(error) {
  return h("div", { class: "alert", role: "alert" }, h("pre", {}, problemText(error)));
}

// The API key: asked once per browser session, kept in sessionStorage, and asked again when
// the server refuses it. Every view then shows only that key's tenant.
let keyPromise = null;
function renderKeyState() {
  const slot = document.getElementById("key-state");
  if (!slot || !config.keys_required) return;
  slot.replaceChildren(
    apiKey()
      ? h("button", { type: "button", class: "link", onclick: () => forgetKey() }, "Forget API key")
      : h("span", {}, "No API key"),
  );
}

function forgetKey() {
  setApiKey("");
  window.location.reload();
}

export function askKey(message = "") {
  if (keyPromise) return keyPromise;
  keyPromise = new Promise((resolve) => {
    const input = h("input", { type: "password", autocomplete: "off", required: true });
    const error = h("p", { class: "error", role: "alert" }, message);
    const form = h(
      "form",
      { class: "key-form" },
      h("h2", { id: "key-title" }, "API key"),
      h("p", {}, "This server needs an API key. It is kept for this browser session only."),
      field("API key", input),
      error,
      h("button", { type: "submit" }, "Use this key"),
    );
    const dialog = h("dialog", { "aria-labelledby": "key-title" }, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      setApiKey(input.value.trim());
      try {
        await api("/v1/training-jobs?limit=1");
      } catch (failure) {
        setApiKey("");
        error.textContent = failure instanceof ApiError ? failure.message : String(failure);
        input.focus();
        input.select();
        return;
      }
      dialog.close();
      dialog.remove();
      keyPromise = null;
      renderKeyState();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
  return keyPromise;
}

onUnauthorized(() => {
  setApiKey("");
  askKey("The server refused the key; enter it again.").then(() => window.location.reload());
});

// Every page starts here: once a key is there (when one is needed), draw the page.
export async function start(draw) {
  renderKeyState();
  if (config.keys_required && !apiKey()) await askKey();
  try {
    await draw(root());
  } catch (error) {
    root().replaceChildren(alertBox(error));
  }
}

export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
}
