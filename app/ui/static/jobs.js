// The jobs table: the list's filters and pagination, kept up to date by the tenant's stream.
import { api, follow, query } from "./api.js";
import { bestMetric, fmtAge, fmtDuration, h, progressBar, section, start, statusBadge, field } from "./ui.js";

const STATUSES = ["", "pending", "running", "completed", "failed", "cancelled"];
const state = { filters: {}, limit: 20, offset: 0, rows: new Map(), total: 0 };

function readLocation() {
  const params = new URLSearchParams(window.location.search);
  state.filters = {
    status: params.get("status") || "",
    model_name: params.get("model_name") || "",
    experiment_name: params.get("experiment_name") || "",
  };
  state.limit = Math.min(1000, Math.max(1, Number(params.get("limit")) || 20));
  state.offset = Math.max(0, Number(params.get("offset")) || 0);
}

function writeLocation() {
  const search = query({ ...state.filters, limit: state.limit === 20 ? "" : state.limit, offset: state.offset || "" });
  window.history.replaceState(null, "", `/ui${search}`);
}

function row(job) {
  const eta = job.status === "running" && job.eta_seconds !== null ? fmtDuration(job.eta_seconds) : "—";
  return h(
    "tr",
    { "data-job-id": job.job_id, "data-status": job.status },
    h("td", {}, h("a", { href: `/ui/jobs/${job.job_id}` }, `${job.model_name} v${job.model_version}`)),
    h("td", {}, statusBadge(job.status)),
    h("td", {}, job.stage.replaceAll("_", " ")),
    h("td", { class: "progress-cell" }, progressBar(job.progress, `Progress of ${job.model_name} v${job.model_version}`)),
    h("td", {}, eta),
    h("td", {}, job.algorithm),
    h("td", {}, bestMetric(job)),
    h("td", { class: "age", "data-created": job.created_at, title: job.created_at }, fmtAge(job.created_at)),
  );
}

function renderRows(tbody) {
  const jobs = [...state.rows.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  tbody.replaceChildren(
    ...(jobs.length
      ? jobs.map(row)
      : [h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No jobs match. Submit one from New job."))]),
  );
}

async function load(tbody, pager) {
  // The page's "of N" needs the count (include_total): one count per page load, fine for a person.
  const list = await api(
    `/v1/training-jobs${query({ ...state.filters, limit: state.limit, offset: state.offset, include_total: "true" })}`,
  );
  state.rows = new Map(list.items.map((job) => [job.job_id, job]));
  state.total = list.total;
  renderRows(tbody);
  const first = list.items.length ? state.offset + 1 : 0;
  pager.summary.textContent = `Jobs ${first}–${state.offset + list.items.length} of ${list.total}`;
  pager.prev.disabled = state.offset === 0;
  pager.next.disabled = !list.next_page_token;
}

function filterForm(onChange) {
  const status = h("select", { name: "status" }, ...STATUSES.map((s) => h("option", { value: s }, s || "any")));
  status.value = state.filters.status;
  const model = h("input", { name: "model_name", value: state.filters.model_name, maxlength: 128 });
  const experiment = h("input", { name: "experiment_name", value: state.filters.experiment_name, maxlength: 256 });
  const limit = h("select", { name: "limit" }, ...[10, 20, 50, 100].map((n) => h("option", { value: n }, n)));
  limit.value = String(state.limit);
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter jobs" },
    field("Status", status),
    field("Model name", model),
    field("Experiment", experiment),
    field("Per page", limit),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = { status: status.value, model_name: model.value.trim(), experiment_name: experiment.value.trim() };
    state.limit = Number(limit.value);
    state.offset = 0;
    onChange(true);
  });
  return form;
}

start(async (app) => {
  readLocation();
  const tbody = h("tbody");
  const pager = {
    summary: h("span", { class: "muted", "aria-live": "polite" }),
    prev: h("button", { type: "button" }, "← Newer"),
    next: h("button", { type: "button" }, "Older →"),
  };
  const live = h("span", { class: "live", "data-live": "connecting" }, "● connecting");
  let stop = () => {};
  let refresh = null;
  const reload = () => {
    clearTimeout(refresh);
    refresh = setTimeout(() => load(tbody, pager).catch(() => {}), 300);
  };
  function connect() {
    stop();
    live.dataset.live = "connecting";
    stop = follow(`/v1/training-jobs/stream${query(state.filters)}`, (event, data) => {
      if (event === "ready") {
        live.dataset.live = "on";
        live.textContent = "● live";
        return;
      }
      if (event !== "status") return;
      if (state.rows.has(data.job_id)) {
        state.rows.set(data.job_id, data);
        const old = tbody.querySelector(`tr[data-job-id="${data.job_id}"]`);
        if (old) old.replaceWith(row(data));
      } else if (state.offset === 0) {
        reload(); // a job new to this page: the list says where it goes and what drops off
      }
    });
  }
  async function change(reconnect) {
    writeLocation();
    await load(tbody, pager);
    if (reconnect) connect();
  }
  pager.prev.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - state.limit);
    change(false);
  });
  pager.next.addEventListener("click", () => {
    state.offset += state.limit;
    change(false);
  });
  const table = h(
    "table",
    { class: "jobs" },
    h("caption", { class: "sr-only" }, "Training jobs, newest first"),
    h("thead", {}, h("tr", {}, ...["Model", "Status", "Stage", "Progress", "ETA", "Algorithm", "Best metric", "Age"].map((t) => h("th", { scope: "col" }, t)))),
    tbody,
  );
  app.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Training jobs"), live, h("a", { class: "button", href: "/ui/new" }, "New job")),
    section("Filters", filterForm(change)),
    h("div", { class: "table-wrap" }, table),
    h("nav", { class: "pager", "aria-label": "Pages" }, pager.prev, pager.summary, pager.next),
  );
  await change(true);
  setInterval(() => {
    for (const cell of tbody.querySelectorAll("td.age")) cell.textContent = fmtAge(cell.dataset.created);
  }, 10000);
});
