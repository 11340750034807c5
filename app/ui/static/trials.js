// A search's trials: the table, the objective per trial with the best-so-far line, and each
// parameter against the objective.
import { plot } from "./charts.js";
import { fmtDuration, fmtNumber, h } from "./ui.js";

// Trial scores are scikit-learn scores, greater is better (errors come negated: neg_rmse).
const SIGN = 1;

// A parameter against the objective: a numeric axis for a numeric parameter of many values,
// otherwise one column per value (sorted), as a grid or a list of choices gives.
function paramPlot(name, scored) {
  const values = scored.map((t) => t.params[name]);
  const numeric = values.every((v) => typeof v === "number");
  const distinct = [...new Set(values.map((v) => JSON.stringify(v)))];
  const options = { title: `${name} against the objective`, xLabel: name, yLabel: "objective", width: 300, height: 220 };
  if (numeric && distinct.length > 8) {
    return plot([{ name: "", type: "points", x: values, y: scored.map((t) => t.mean_score) }], options);
  }
  const categories = distinct.sort((a, b) => (numeric ? Number(a) - Number(b) : a.localeCompare(b)));
  return plot([{ name: "", type: "points", x: values.map((v) => categories.indexOf(JSON.stringify(v))), y: scored.map((t) => t.mean_score) }],
    { ...options, categories: categories.map((c) => (c.startsWith('"') ? JSON.parse(c) : c)), xDomain: [-0.5, categories.length - 0.5] });
}

export function trialsSection(trials) {
  if (!trials.length) return [h("p", { class: "muted" }, "No trials: this job has no hyperparameter search, or none has finished yet.")];
  const sorted = [...trials].sort((a, b) => a.number - b.number);
  const scored = sorted.filter((t) => t.state === "complete" && Number.isFinite(t.mean_score));
  const best = [];
  let sofar = null;
  for (const t of scored) {
    if (sofar === null || SIGN * t.mean_score > SIGN * sofar) sofar = t.mean_score;
    best.push(sofar);
  }
  const names = [...new Set(sorted.flatMap((t) => Object.keys(t.params)))].sort();
  const parts = [];
  if (scored.length) {
    parts.push(h("div", { class: "plots" },
      h("div", { class: "plot-block trials-plot" }, h("h3", {}, "Objective per trial"),
        plot([
          { name: "trial score", type: "points", x: scored.map((t) => t.number), y: scored.map((t) => t.mean_score) },
          { name: "best so far", type: "step", x: scored.map((t) => t.number), y: best },
        ], { title: "Objective (mean cross-validation score) per trial, with the best so far", xLabel: "trial", yLabel: "objective" })),
      ...names.map((name) => h("div", { class: "plot-block param-plot" }, h("h3", {}, name), paramPlot(name, scored.filter((t) => name in t.params)))),
    ));
  }
  parts.push(h("div", { class: "table-wrap" }, h("table", { class: "trials" },
    h("thead", {}, h("tr", {}, ...["#", "State", "Objective", "± std", ...names, "Duration"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...sorted.map((t) => h("tr", { "data-state": t.state },
      h("td", {}, String(t.number)), h("td", {}, t.state + (t.error ? `: ${t.error}` : "")),
      h("td", {}, fmtNumber(t.mean_score)), h("td", {}, fmtNumber(t.std_score)),
      ...names.map((n) => h("td", {}, n in t.params ? JSON.stringify(t.params[n]) : "—")),
      h("td", {}, fmtDuration(t.duration_seconds))))))));
  return parts;
}
