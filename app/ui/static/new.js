// A new job: the estimator and its parameters from /v1/algorithms (defaults, types, allowed
// values), an optional search, a dataset from the uploads (or uploaded here) or a bundled one,
// the dry run's profile and estimate before submitting, then the job's progress live.
import { api, follow } from "./api.js";
import { alertBox, field, fmtNumber, h, progressBar, section, start, statusBadge } from "./ui.js";

const BUNDLED = ["iris", "wine", "breast_cancer", "diabetes", "digits"];
const shown = (value) => (typeof value === "string" ? value : JSON.stringify(value));

function parseParameter(parameter, text) {
  if (parameter.types.length === 1 && parameter.types[0] === "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parameterControl(parameter) {
  const hint = `${parameter.types.join(" | ")}; ${parameter.constraints.join("; ")}; default ${shown(parameter.default)}`;
  let input;
  let list = null;
  if (parameter.types.length === 1 && parameter.types[0] === "boolean") {
    input = h("select", { name: parameter.name }, h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    input.value = shown(parameter.default);
  } else {
    const listId = parameter.options ? `opts-${parameter.name}` : null;
    input = h("input", { name: parameter.name, value: shown(parameter.default), list: listId, autocomplete: "off", spellcheck: "false" });
    if (listId) list = h("datalist", { id: listId }, ...parameter.options.map((o) => h("option", { value: shown(o) })));
  }
  input.dataset.param = parameter.name;
  const wrapper = field(parameter.name, input, hint);
  if (list) wrapper.append(list);
  return wrapper;
}

function suggestSpace(algorithm) {
  const space = {};
  for (const p of algorithm.parameters) {
    if (Object.keys(space).length >= 2) break;
    if (p.types.includes("integer") && Number.isInteger(p.default) && p.default >= 2 && !/random_state|verbose|n_jobs/.test(p.name)) {
      space[p.name] = [Math.max(1, Math.round(p.default / 2)), p.default, p.default * 2];
    } else if (p.options && p.types.length === 1 && p.options.length > 1) {
      space[p.name] = p.options.slice(0, 3);
    }
  }
  return JSON.stringify(space, null, 1);
}

function profileView(report) {
  const p = report.profile;
  const parts = [
    h("p", {}, `${p.rows} rows, ${p.columns} columns`, p.rows_dropped_missing_target ? `, ${p.rows_dropped_missing_target} rows dropped (no target)` : ""),
  ];
  if (report.estimate) {
    parts.push(h("h3", {}, "Estimate"), h("dl", { class: "kv estimate" }, ...Object.entries(report.estimate).flatMap(([k, v]) => [h("dt", {}, k.replaceAll("_", " ")), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : fmtNumber(v))])));
  }
  if (p.class_balance) parts.push(h("h3", {}, "Class balance"), h("dl", { class: "kv" }, ...Object.entries(p.class_balance).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])));
  if (p.target_summary) parts.push(h("h3", {}, "Target"), h("dl", { class: "kv" }, ...Object.entries(p.target_summary).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, fmtNumber(v))])));
  parts.push(h("div", { class: "table-wrap" }, h("table", { class: "profile" },
    h("thead", {}, h("tr", {}, ...["Column", "Type", "Kind", "Missing", "Distinct"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...p.column_profiles.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.dtype), h("td", {}, c.kind), h("td", {}, String(c.missing)), h("td", {}, String(c.distinct))))))));
  if (report.notes && report.notes.length) parts.push(h("ul", { class: "notes" }, ...report.notes.map((n) => h("li", {}, n))));
  return h("div", { class: "dry-run", "data-valid": String(report.valid) }, ...parts);
}

function followJob(job, panel) {
  const draw = (status) => panel.replaceChildren(
    h("p", {}, "Submitted: ", h("a", { href: `/ui/jobs/${status.job_id}` }, `${status.model_name} v${status.model_version}`), " ", statusBadge(status.status), ` ${status.stage.replaceAll("_", " ")}`),
    progressBar(status.progress, "Progress of the submitted job"),
    status.error ? h("p", { class: "error" }, status.error.message) : "",
  );
  draw(job);
  follow(`/v1/training-jobs/${job.job_id}/stream`, (event, data) => {
    if (event === "status") draw(data);
  }, { untilEnd: true, onEnd: () => api(`/v1/training-jobs/${job.job_id}`).then(draw).catch(() => {}) });
}

start(async (app) => {
  const [catalog, uploads] = await Promise.all([api("/v1/algorithms"), api("/v1/datasets")]);
  const byName = new Map(catalog.items.map((a) => [a.name, a]));
  const wanted = new URLSearchParams(window.location.search);

  const modelName = h("input", { name: "model_name", required: true, maxlength: 128, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*", value: wanted.get("model_name") || "" });
  const experiment = h("input", { name: "experiment_name", maxlength: 256 });
  const dataset = h("select", { name: "dataset" });
  const columnsList = h("datalist", { id: "target-columns" });
  const target = h("input", { name: "target_column", required: true, list: "target-columns", autocomplete: "off" });
  const upload = h("input", { type: "file", name: "file", accept: ".csv,.parquet,.json,.jsonl" });
  const uploadButton = h("button", { type: "button" }, "Upload");
  const uploadNote = h("p", { class: "muted", role: "status" });
  const task = h("select", { name: "task" }, h("option", { value: "" }, "any"), h("option", { value: "classification" }, "classification"), h("option", { value: "regression" }, "regression"));
  const algorithm = h("select", { name: "algorithm", required: true });
  const params = h("div", { class: "grid params" });
  const searchOn = h("input", { type: "checkbox", name: "search" });
  const strategy = h("select", { name: "strategy" }, ...["random", "grid", "bayesian", "halving"].map((s) => h("option", { value: s }, s)));
  const maxTrials = h("input", { type: "number", name: "max_trials", value: 6, min: 1, max: 10000 });
  const folds = h("input", { type: "number", name: "cv_folds", value: 3, min: 2, max: 20 });
  const objective = h("input", { name: "objective_metric", placeholder: "accuracy / r2" });
  const space = h("textarea", { name: "search_space", rows: 5, spellcheck: "false" });
  const result = h("div", { "aria-live": "polite" });
  const submitted = h("div", { class: "submitted", "aria-live": "polite" });

  const datasets = [
    ...uploads.items.map((d) => ({ path: d.path, label: `${d.name} (${d.format}, ${d.rows ?? "?"} rows)`, columns: d.columns || [] })),
    ...BUNDLED.map((name) => ({ path: `sklearn://${name}`, label: `${name} (bundled with scikit-learn)`, columns: ["target"] })),
  ];
  function fillDatasets(selected) {
    dataset.replaceChildren(...datasets.map((d) => h("option", { value: d.path }, d.label)));
    dataset.value = selected || wanted.get("data") || datasets[0].path;
    datasetChanged();
  }
  function datasetChanged() {
    const chosen = datasets.find((d) => d.path === dataset.value);
    const columns = chosen ? chosen.columns : [];
    columnsList.replaceChildren(...columns.map((c) => h("option", { value: c })));
    if (!columns.includes(target.value)) target.value = columns.includes("target") ? "target" : columns[columns.length - 1] || "";
  }
  function fillAlgorithms() {
    const keep = algorithm.value || wanted.get("algorithm") || "RandomForestClassifier";
    const items = catalog.items.filter((a) => !task.value || a.task === task.value);
    algorithm.replaceChildren(...items.map((a) => h("option", { value: a.name }, `${a.name} (${a.framework}, ${a.task})`)));
    algorithm.value = items.some((a) => a.name === keep) ? keep : items[0].name;
    algorithmChanged();
  }
  function algorithmChanged() {
    const chosen = byName.get(algorithm.value);
    params.replaceChildren(...chosen.parameters.map(parameterControl));
    space.value = suggestSpace(chosen);
  }
  dataset.addEventListener("change", datasetChanged);
  task.addEventListener("change", fillAlgorithms);
  algorithm.addEventListener("change", algorithmChanged);
  uploadButton.addEventListener("click", async () => {
    if (!upload.files.length) {
      uploadNote.textContent = "Choose a file first.";
      return;
    }
    const form = new FormData();
    form.append("file", upload.files[0]);
    uploadNote.textContent = "Uploading…";
    try {
      const info = await api("/v1/datasets", { method: "POST", form });
      datasets.unshift({ path: info.path, label: `${info.name} (${info.format}, ${info.rows ?? "?"} rows)`, columns: info.columns || [] });
      fillDatasets(info.path);
      uploadNote.textContent = `Uploaded ${info.name}.`;
    } catch (error) {
      uploadNote.replaceChildren(alertBox(error));
    }
  });

  function request() {
    const chosen = byName.get(algorithm.value);
    const parameters = {};
    for (const input of params.querySelectorAll("[data-param]")) {
      const parameter = chosen.parameters.find((p) => p.name === input.dataset.param);
      if (input.value !== shown(parameter.default)) parameters[parameter.name] = parseParameter(parameter, input.value);
    }
    const body = {
      model_name: modelName.value.trim(),
      data_source_config: { path: dataset.value, target_column: target.value.trim() },
      algorithm_config: { name: algorithm.value, parameters },
    };
    if (experiment.value.trim()) body.experiment_name = experiment.value.trim();
    if (searchOn.checked) {
      let searchSpace;
      try {
        searchSpace = JSON.parse(space.value);
      } catch (error) {
        throw new Error(`search space: not JSON (${error.message})`);
      }
      body.hyperparameter_tuning_config = { strategy: strategy.value, search_space: searchSpace, max_trials: Number(maxTrials.value), cv_folds: Number(folds.value) };
      if (objective.value.trim()) body.hyperparameter_tuning_config.objective_metric = objective.value.trim();
    }
    return body;
  }

  const dryRun = h("button", { type: "button" }, "Dry run");
  const submit = h("button", { type: "submit", class: "primary" }, "Submit job");
  dryRun.addEventListener("click", async () => {
    if (!form.reportValidity()) return;
    result.replaceChildren(h("p", { class: "muted" }, "Checking the request and reading the data…"));
    try {
      result.replaceChildren(profileView(await api("/v1/training-jobs/validate", { method: "POST", body: request() })));
    } catch (error) {
      result.replaceChildren(alertBox(error));
    }
  });
  const form = h("form", { class: "new-job", novalidate: false },
    section("Model", h("div", { class: "grid" }, field("Model name", modelName, "letters, digits, . _ -"), field("Experiment", experiment, "optional"))),
    section("Data",
      h("div", { class: "grid" }, field("Dataset", dataset), field("Target column", target), columnsList),
      h("div", { class: "grid" }, field("Upload a data file", upload, "csv, parquet, json, jsonl"), h("div", { class: "field end" }, uploadButton)), uploadNote),
    section("Estimator",
      h("div", { class: "grid" }, field("Task", task), field("Algorithm", algorithm)),
      h("details", { open: true }, h("summary", {}, "Parameters (unchanged ones keep their defaults)"), params)),
    section("Hyperparameter search",
      h("div", { class: "check" }, searchOn, h("label", { for: (searchOn.id = "search-on") }, "Run a hyperparameter search")),
      h("div", { class: "grid" }, field("Strategy", strategy), field("Max trials", maxTrials), field("CV folds", folds), field("Objective metric", objective, "a scikit-learn scorer name; optional")),
      field("Search space (JSON)", space, 'parameter to a list of values, or {"type": "int"|"float", "low", "high"}')),
    h("div", { class: "actions" }, dryRun, submit),
    section("Dry run", result),
    submitted,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const job = await api("/v1/training-jobs", { method: "POST", body: request() });
      followJob(job, submitted);
      submitted.scrollIntoView();
    } catch (error) {
      submitted.replaceChildren(alertBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  app.replaceChildren(h("h1", {}, "New training job"), form);
  fillDatasets();
  fillAlgorithms();
});
