// The JSON API, as this browser session's tenant: the API key lives in sessionStorage (asked
// once per session when the server has keys on) and goes with every request as a bearer token.
// Streams are read with fetch, not EventSource, because EventSource cannot send that header.

const KEY = "trainyard.apiKey";
export const config = JSON.parse(document.getElementById("ui-config").textContent);

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const unauthorizedListeners = [];
export function onUnauthorized(listener) {
  unauthorizedListeners.push(listener);
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

export async function api(path, { method = "GET", body, form, raw = false } = {}) {
  const init = { method, headers: authHeaders({ Accept: "application/json" }) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(path, init);
  if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = { detail: `HTTP ${response.status}` };
    }
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function parseFrame(block) {
  const frame = { event: "message", id: null, data: [] };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") frame.event = value;
    else if (field === "id") frame.id = value;
    else if (field === "data") frame.data.push(value);
  }
  return frame.data.length ? frame : null;
}

// Follow a server-sent event stream: onFrame(event, data) per frame; on a dropped connection
// it reconnects with Last-Event-ID, so nothing is missed or repeated. `untilEnd`: the stream
// ends by itself (one job's, after its terminal status) and is not reopened then.
export function follow(path, onFrame, { untilEnd = false, onEnd = () => {} } = {}) {
  const controller = new AbortController();
  let lastId = null;
  let stopped = false;
  async function once() {
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (lastId) headers["Last-Event-ID"] = lastId;
    const response = await fetch(path, { headers, signal: controller.signal });
    if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = parseFrame(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (!frame) continue;
        if (frame.id) lastId = frame.id;
        onFrame(frame.event, JSON.parse(frame.data.join("\n")));
      }
    }
  }
  (async () => {
    while (!stopped) {
      try {
        await once();
        if (untilEnd) break;
      } catch (error) {
        if (stopped || (error instanceof ApiError && error.status < 500 && error.status !== 429)) {
          break;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (!stopped) onEnd();
  })();
  return () => {
    stopped = true;
    controller.abort();
  };
}

// A download that needs the API key: fetch it, then hand the blob to the browser.
export async function download(path, fallbackName) {
  const response = await api(path, { raw: true });
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = match ? match[1] : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
