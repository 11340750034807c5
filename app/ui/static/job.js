// One job: status and progress, the timeline of its attempts, metrics, the evaluation report,
// the trials, the live log, and actions (cancel, download, predict, copy as curl/CLI/Python).
import { api, ApiError, config, download, follow } from "./api.js";
import { stageBars } from "./charts.js";
import { evaluationSection } from "./evaluation.js";
import { trialsSection } from "./trials.js";
import {
  alertBox, copyText, field, fmtDuration, fmtNumber, h, problemText, progressBar, section, start,
  statusBadge, TERMINAL, time,
} from "./ui.js";

const jobId = config.job_id;
const base = `/v1/training-jobs/${jobId}`;
const state = { job: null, events: [], trials: [], log: [], evaluation: null, features: null };
const slots = {};

function header(job) {
  const bits = [
    h("h1", {}, `${job.model_name} `, h("span", { class: "muted" }, `v${job.model_version}`)),
    h("p", { class: "status-line" }, statusBadge(job.status), " ", h("span", { class: "stage", "data-stage": job.stage }, `stage: ${job.stage.replaceAll("_", " ")}`),
      " · attempt ", String(job.attempt), " · ", job.algorithm),
    progressBar(job.progress, "Job progress"),
    h("p", { class: "muted" },
      job.status === "running" && job.eta_seconds !== null ? `about ${fmtDuration(job.eta_seconds)} left · ` : "",
      job.message || ""),
  ];
  if (job.error) bits.push(h("div", { class: "alert", role: "alert" }, h("strong", {}, `${job.error.type}`), job.error.stage ? ` in ${job.error.stage}: ` : ": ", job.error.message));
  return h("div", { class: "job-head" }, ...bits);
}

function snippets(job) {
  const origin = window.location.origin;
  const key = config.keys_required ? ' -H "Authorization: Bearer $TRAINYARD_API_KEY"' : "";
  const cliKey = config.keys_required ? " # with TRAINYARD_API_KEY set" : "";
  const pyKey = config.keys_required ? "  # the key: TRAINYARD_API_KEY" : "";
  return {
    curl: [
      `curl -s${key} ${origin}${base}`,
      `curl -s${key} ${origin}${base}/trials`,
      job.status === "completed" ? `curl -s${key} -o model.skops ${origin}${base}/model` : `curl -s${key} -X POST ${origin}${base}/cancel`,
    ].join("\n"),
    CLI: [
      `export TRAINYARD_URL=${origin}${cliKey}`,
      `trainyard status ${job.job_id}`,
      `trainyard watch ${job.job_id}`,
      job.status === "completed" ? `trainyard download ${job.job_id} -o model.skops` : `trainyard cancel ${job.job_id}`,
    ].join("\n"),
    Python: [
      ...(job.status === "completed" ? ["from pathlib import Path", ""] : []),
      "from trainyard_client import TrainyardClient",
      "",
      `client = TrainyardClient("${origin}")${pyKey}`,
      `print(client.status("${job.job_id}"))`,
      job.status === "completed"
        ? `client.download_model("${job.job_id}", Path("model.skops"))`
        : `client.cancel("${job.job_id}")`,
    ].join("\n"),
  };
}

function copyPanel(job) {
  const texts = snippets(job);
  const names = Object.keys(texts);
  const pre = h("pre", { class: "snippet", id: "snippet", role: "tabpanel", tabindex: 0, "aria-live": "polite" });
  const copy = h("button", { type: "button", onclick: () => copyText(pre.textContent, copy) }, "Copy");
  const tabs = names.map((name, index) =>
    h("button", { type: "button", role: "tab", "aria-controls": "snippet", "aria-selected": index === 0 ? "true" : "false", onclick: (event) => choose(name, event.currentTarget) }, `as ${name}`),
  );
  function choose(name, tab) {
    for (const other of tabs) other.setAttribute("aria-selected", other === tab ? "true" : "false");
    pre.textContent = texts[name];
  }
  choose(names[0], tabs[0]);
  return h("div", { class: "copy" }, h("div", { role: "tablist", "aria-label": "Copy as" }, ...tabs, copy), pre);
}

function actions(job) {
  const message = h("p", { class: "muted", role: "status" });
  const buttons = [];
  if (!TERMINAL.has(job.status)) {
    buttons.push(h("button", { type: "button", class: "danger", onclick: async (event) => {
      event.currentTarget.disabled = true;
      try {
        const answer = await api(`${base}/cancel`, { method: "POST" });
        message.textContent = `Cancel requested: ${answer.status}`;
        update(answer);
      } catch (error) {
        message.textContent = problemText(error);
      }
    } }, "✖ Cancel job"));
  }
  if (job.status === "completed") {
    buttons.push(h("button", { type: "button", onclick: () => download(`${base}/model`, `${job.model_name}-${job.model_version}.skops`).catch((e) => (message.textContent = problemText(e))) }, "⬇ Download model"));
  }
  if (config.mlflow_ui_url && job.registry && job.registry.run_id) {
    const path = job.registry.experiment_id ? `#/experiments/${job.registry.experiment_id}/runs/${job.registry.run_id}` : "";
    buttons.push(h("a", { class: "button", href: `${config.mlflow_ui_url}/${path}`, target: "_blank", rel: "noopener" }, "Open in MLflow ↗"));
  }
  return h("div", {}, h("div", { class: "actions" }, ...buttons), message, copyPanel(job));
}

function timeline(events) {
  if (!events.length) return h("p", { class: "muted" }, "No events yet.");
  const attempts = new Map();
  for (const event of events) {
    if (!attempts.has(event.attempt)) attempts.set(event.attempt, []);
    attempts.get(event.attempt).push(event);
  }
  // Each stage lasts until the next event (of any attempt); the last one until now, if live.
  const now = Date.now();
  const ends = new Map(events.map((event, i) => {
    const next = events[i + 1];
    const end = next ? Date.parse(next.created_at) : TERMINAL.has(event.status) ? Date.parse(event.created_at) : now;
    return [event, end];
  }));
  const rows = [...attempts.entries()].map(([attempt, list]) => ({
    name: attempt ? `attempt ${attempt}` : "queued",
    segments: list.map((event) => ({
      stage: event.stage.replaceAll("_", " "),
      start: Date.parse(event.created_at),
      end: ends.get(event),
    })),
  }));
  const chart = stageBars(rows, { title: "Stages of each attempt over time" });
  return h("div", { class: "timeline" }, chart, ...[...attempts.entries()].map(([attempt, list]) =>
    h("div", {},
      h("h3", {}, attempt ? `Attempt ${attempt}` : "Queued"),
      h("ol", {}, ...list.map((event, i) => {
        const next = list[i + 1];
        const took = next ? (Date.parse(next.created_at) - Date.parse(event.created_at)) / 1000 : null;
        return h("li", { "data-stage": event.stage },
          time(event.created_at), " ", statusBadge(event.status), " ", h("strong", {}, event.stage.replaceAll("_", " ")),
          ` · ${Math.floor(event.progress)}%`, took !== null ? ` · ${fmtDuration(took)}` : "",
          event.message ? h("span", { class: "muted" }, ` — ${event.message}`) : "");
      })),
    ),
  ));
}

function metricsTable(metrics) {
  if (!metrics) return h("p", { class: "muted" }, "Metrics come when the job completes.");
  const names = new Set();
  const other = [];
  for (const key of Object.keys(metrics)) {
    if (/^(train|validation)_/.test(key)) names.add(key.replace(/^(train|validation)_/, ""));
    else other.push(key);
  }
  return h("table", {},
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"), h("th", { scope: "col" }, "Train"), h("th", { scope: "col" }, "Validation"))),
    h("tbody", {},
      ...[...names].sort().map((name) => h("tr", {},
        h("th", { scope: "row" }, name), h("td", {}, fmtNumber(metrics[`train_${name}`])), h("td", {}, fmtNumber(metrics[`validation_${name}`])))),
      ...other.sort().map((name) => h("tr", {},
        h("th", { scope: "row" }, name.replaceAll("_", " ")), h("td", { colspan: 2 }, fmtNumber(metrics[name]))))),
  );
}

function parseValue(text) {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : trimmed;
}

async function predictForm(job) {
  if (job.status !== "completed") return h("p", { class: "muted" }, "Predictions are possible once the job has completed.");
  let features;
  try {
    features = await api(`${base}/model/features`);
  } catch (error) {
    return alertBox(error);
  }
  const inputs = features.feature_columns.map((name) => h("input", { name, "data-feature": name, autocomplete: "off" }));
  const out = h("div", { class: "prediction", "aria-live": "polite" });
  const form = h("form", { class: "predict-form" },
    h("div", { class: "grid" }, ...inputs.map((input) => field(input.name, input))),
    h("button", { type: "submit" }, "Predict"), out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const row = Object.fromEntries(inputs.map((input) => [input.name, parseValue(input.value)]));
    out.replaceChildren(h("p", { class: "muted" }, "Predicting…"));
    try {
      const answer = await api(`${base}/predictions`, { method: "POST", body: { rows: [row] } });
      const parts = [h("p", {}, "Prediction: ", h("output", { class: "predicted" }, String(answer.predictions[0])))];
      if (answer.classes && answer.probabilities) {
        parts.push(h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Class"), h("th", { scope: "col" }, "Probability"))),
          h("tbody", {}, ...answer.classes.map((label, i) => h("tr", {}, h("td", {}, String(label)), h("td", {}, fmtNumber(answer.probabilities[0][i])))))));
      }
      out.replaceChildren(...parts);
    } catch (error) {
      out.replaceChildren(alertBox(error));
    }
  });
  return form;
}

function logView() {
  const pre = h("pre", { class: "log", tabindex: 0, "aria-label": "Job log" });
  pre.textContent = state.log.join("\n");
  return pre;
}

function appendLog(lines) {
  state.log.push(...lines);
  const pre = slots.log.querySelector("pre");
  if (!pre) return;
  const follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
  pre.textContent = state.log.join("\n");
  if (follow) pre.scrollTop = pre.scrollHeight;
}

let drawn = "";
function update(job) {
  const before = state.job;
  state.job = job;
  slots.head.replaceChildren(header(job));
  const shape = `${job.status}|${job.registry && job.registry.run_id}`;
  if (shape !== drawn) {
    drawn = shape;
    slots.actions.replaceChildren(actions(job));
  }
  slots.metrics.replaceChildren(metricsTable(job.metrics));
  return before;
}

function redrawEvents() {
  slots.timeline.replaceChildren(timeline(state.events));
}

function redrawTrials() {
  slots.trials.replaceChildren(...trialsSection(state.trials));
}

async function finish() {
  const [job, events, trials, log] = await Promise.all([
    api(base), api(`${base}/events`), api(`${base}/trials`), api(`${base}/logs`),
  ]);
  update(job);
  state.events = events;
  state.trials = trials;
  state.log = log ? log.replace(/\n$/, "").split("\n") : [];
  redrawEvents();
  redrawTrials();
  slots.log.replaceChildren(logView());
  slots.evaluation.replaceChildren(...(await evaluationSection(base, job)));
  slots.predict.replaceChildren(await predictForm(job));
}

start(async (app) => {
  let job;
  try {
    job = await api(base);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      app.replaceChildren(h("h1", {}, "Job not found"), h("p", {}, "No job with this id for your API key. ", h("a", { href: "/ui" }, "All jobs")));
      return;
    }
    throw error;
  }
  document.title = `${job.model_name} v${job.model_version} · Trainyard`;
  for (const name of ["head", "actions", "timeline", "metrics", "evaluation", "trials", "log", "predict"]) {
    slots[name] = h("div", { class: `slot slot-${name}` });
  }
  app.replaceChildren(
    h("p", {}, h("a", { href: "/ui" }, "← All jobs")),
    slots.head,
    h("div", { class: "columns" },
      section("Actions", slots.actions),
      section("Metrics", slots.metrics)),
    section("Timeline", slots.timeline),
    section("Evaluation", slots.evaluation),
    section("Trials", slots.trials),
    section("Predict", slots.predict),
    section("Log", slots.log),
  );
  update(job);
  if (TERMINAL.has(job.status)) {
    await finish();
    return;
  }
  // Running or queued: the job's stream brings everything from the start, then live.
  slots.log.replaceChildren(logView());
  slots.evaluation.replaceChildren(h("p", { class: "muted" }, "The evaluation report comes when the job completes."));
  slots.predict.replaceChildren(await predictForm(job));
  redrawEvents();
  redrawTrials();
  follow(`${base}/stream`, (event, data) => {
    if (event === "status") update(data);
    else if (event === "event") {
      state.events.push(data);
      redrawEvents();
    } else if (event === "trial") {
      state.trials.push(data);
      redrawTrials();
    } else if (event === "log") appendLog(data.lines);
  }, { untilEnd: true, onEnd: () => finish().catch((error) => slots.head.append(alertBox(error))) });
});
