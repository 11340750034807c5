// Datasets: the tenant's uploads with their size, rows and columns; upload another; profile
// one (a dry run on it: types, missing values, distinct values, the target's balance).
import { api } from "./api.js";
import { alertBox, field, fmtBytes, fmtNumber, h, section, start, time } from "./ui.js";

function profileTable(report) {
  const p = report.profile;
  const parts = [h("p", {}, `${p.rows} rows, ${p.columns} columns`)];
  if (p.class_balance) parts.push(h("p", {}, "Class balance: ", Object.entries(p.class_balance).map(([k, v]) => `${k}: ${v}`).join(", ")));
  if (p.target_summary) parts.push(h("p", {}, "Target: ", Object.entries(p.target_summary).map(([k, v]) => `${k} ${fmtNumber(v)}`).join(", ")));
  parts.push(h("table", { class: "profile" },
    h("thead", {}, h("tr", {}, ...["Column", "Type", "Kind", "Missing", "Distinct"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...p.column_profiles.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.dtype), h("td", {}, c.kind), h("td", {}, String(c.missing)), h("td", {}, String(c.distinct)))))));
  return h("div", { class: "dry-run" }, ...parts);
}

function profiler(info) {
  const target = h("select", {}, ...(info.columns || []).map((c) => h("option", { value: c }, c)));
  target.value = (info.columns || []).at(-1) || "";
  const task = h("select", {}, h("option", { value: "DummyClassifier" }, "classification"), h("option", { value: "DummyRegressor" }, "regression"));
  const out = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button" }, "Profile");
  button.addEventListener("click", async () => {
    out.replaceChildren(h("p", { class: "muted" }, "Reading…"));
    try {
      const report = await api("/v1/training-jobs/validate", { method: "POST", body: {
        model_name: "profile", data_source_config: { path: info.path, target_column: target.value },
        algorithm_config: { name: task.value } } });
      out.replaceChildren(profileTable(report));
    } catch (error) {
      out.replaceChildren(alertBox(error));
    }
  });
  return h("details", {}, h("summary", {}, "Profile"),
    h("div", { class: "grid" }, field("Target column", target), field("Task", task), h("div", { class: "field end" }, button)), out);
}

function card(info) {
  return h("article", { class: "card dataset", "data-path": info.path },
    h("h3", {}, info.name),
    h("dl", { class: "kv" },
      h("dt", {}, "path"), h("dd", {}, h("code", {}, info.path)),
      h("dt", {}, "format"), h("dd", {}, info.format),
      h("dt", {}, "size"), h("dd", {}, fmtBytes(info.size_bytes)),
      h("dt", {}, "rows"), h("dd", {}, info.rows ?? "—"),
      h("dt", {}, "columns"), h("dd", {}, (info.columns || []).join(", ") || "—"),
      h("dt", {}, "uploaded"), h("dd", {}, time(info.uploaded_at)),
      h("dt", {}, "fingerprint"), h("dd", {}, h("code", {}, (info.fingerprint || "—").slice(0, 16)))),
    h("p", {}, h("a", { href: `/ui/new?data=${encodeURIComponent(info.path)}` }, "Train on this →")),
    profiler(info));
}

start(async (app) => {
  const list = h("div", { class: "cards" });
  const file = h("input", { type: "file", name: "file", accept: ".csv,.parquet,.json,.jsonl", required: true });
  const note = h("div", { role: "status" });
  async function refresh() {
    const { items } = await api("/v1/datasets");
    list.replaceChildren(...(items.length ? items.map(card) : [h("p", { class: "muted" }, "No uploads yet.")]));
  }
  const form = h("form", { class: "upload" }, field("Data file", file, "csv, parquet, json or jsonl"), h("button", { type: "submit" }, "Upload"), note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new FormData();
    body.append("file", file.files[0]);
    try {
      const info = await api("/v1/datasets", { method: "POST", form: body });
      note.replaceChildren(h("p", {}, `Uploaded ${info.name}: ${info.rows ?? "?"} rows.`));
      form.reset();
      await refresh();
    } catch (error) {
      note.replaceChildren(alertBox(error));
    }
  });
  app.replaceChildren(h("h1", {}, "Datasets"), section("Upload", form), section("Uploads", list));
  await refresh();
});
