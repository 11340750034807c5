// The evaluation report of a completed job (GET /v1/training-jobs/{id}/evaluation): confusion
// matrix, per-class scores, ROC, precision-recall and calibration curves (classification),
// predicted against actual and residuals (regression), permutation feature importance.
import { api, ApiError } from "./api.js";
import { bars, heatmap, histogram, plot } from "./charts.js";
import { alertBox, fmtNumber, h } from "./ui.js";

function table(head, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((c) => h("td", {}, c))))));
}

function block(title, ...content) {
  return h("div", { class: "plot-block" }, h("h3", {}, title), ...content);
}

function classification(report) {
  const c = report.classification;
  const parts = [
    block("Confusion matrix", heatmap(c.labels, c.confusion_matrix, { title: `Confusion matrix of ${report.rows} validation rows: actual by predicted` })),
    block("Per class", table(["Class", "Precision", "Recall", "F1", "Support"],
      c.per_class.map((p) => [p.label, fmtNumber(p.precision, 3), fmtNumber(p.recall, 3), fmtNumber(p.f1, 3), String(p.support)]))),
  ];
  if (c.roc.length) {
    parts.push(block("ROC", plot(c.roc.map((r) => ({ name: `${r.label} (AUC ${fmtNumber(r.auc, 3)})`, x: r.fpr, y: r.tpr })),
      { title: "ROC curve: true positive rate against false positive rate", xLabel: "false positive rate", yLabel: "true positive rate", xDomain: [0, 1], yDomain: [0, 1.02], diagonal: true })));
  }
  if (c.precision_recall.length) {
    parts.push(block("Precision-recall", plot(c.precision_recall.map((r) => ({ name: `${r.label} (AP ${fmtNumber(r.average_precision, 3)})`, x: r.recall, y: r.precision })),
      { title: "Precision against recall", xLabel: "recall", yLabel: "precision", xDomain: [0, 1], yDomain: [0, 1.02] })));
  }
  if (c.calibration.length) {
    parts.push(block("Calibration", plot(c.calibration.map((r) => ({ name: `${r.label}`, x: r.prob_pred, y: r.prob_true })),
      { title: "Calibration: observed frequency against mean predicted probability", xLabel: "mean predicted probability", yLabel: "fraction of positives", xDomain: [0, 1], yDomain: [0, 1.02], diagonal: true, caption: "The dotted diagonal is perfect calibration." })));
  }
  if (!c.roc.length) parts.push(h("p", { class: "muted" }, "The model gives no scores, so there are no ROC, precision-recall or calibration curves."));
  const notes = [...(c.score_source ? [`Curves from ${c.score_source}.`] : []), ...(c.notes || [])];
  if (notes.length) parts.push(h("ul", { class: "notes muted" }, ...notes.map((note) => h("li", {}, note))));
  return parts;
}

function regression(report) {
  const r = report.regression;
  const q = r.residuals.quantiles;
  return [
    block("Predicted against actual", plot([{ name: "validation rows", type: "points", x: r.sample.actual, y: r.sample.predicted }],
      { title: `Predicted against actual, a sample of ${r.sample.actual.length} validation rows`, xLabel: "actual", yLabel: "predicted", diagonal: true, caption: "Points on the diagonal are exact predictions." })),
    block("Residuals", histogram(r.residuals.histogram.bin_edges, r.residuals.histogram.counts, { title: "Histogram of residuals (actual minus predicted)", xLabel: "residual" }),
      table(Object.keys(q).map((k) => `q${k}`), [Object.values(q).map((v) => fmtNumber(v, 3))])),
  ];
}

function importance(report) {
  const fi = report.feature_importance;
  if (!fi) return [block("Feature importance", h("p", { class: "muted" }, report.skipped_reason || "Not computed."))];
  const top = fi.features.slice(0, 25);
  return [block("Feature importance",
    bars(top.map((f) => f.feature), top.map((f) => f.importance_mean), { title: `Permutation importance (${fi.scoring}, ${fi.n_repeats} repeats)`, errors: top.map((f) => f.importance_std), xLabel: `drop in ${fi.scoring}` }),
    h("p", { class: "muted" }, `${fi.method} on ${fi.rows} rows, seed ${fi.seed}, ${fmtNumber(fi.seconds, 2)} s.${fi.features.length > top.length ? ` The ${top.length} most important of ${fi.features.length} shown.` : ""}`))];
}

export async function evaluationSection(base, job) {
  if (job.status !== "completed") return [h("p", { class: "muted" }, `No evaluation: the job is ${job.status}.`)];
  let report;
  try {
    report = await api(`${base}/evaluation`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 409)) {
      return [h("p", { class: "muted", "data-evaluation": "absent" }, `No evaluation report: ${error.message}`)];
    }
    return [alertBox(error)];
  }
  const parts = report.classification ? classification(report) : regression(report);
  return [
    h("p", { class: "muted" }, `On the ${report.split} split, ${report.rows} rows.`),
    h("div", { class: "plots", "data-evaluation": "drawn" }, ...parts, ...importance(report)),
  ];
}
