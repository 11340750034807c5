// SVG charts drawn from the API's numbers: lines and points on linear axes, horizontal bars,
// a histogram and a heat map. Each chart is an <svg role="img"> with a title and a legend in
// words; series differ by colour and by marker or dash, never by colour alone.
const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];
const DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4"];

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function ticks(low, high, count = 5) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const first = Math.ceil(low / step) * step;
  const found = [];
  for (let value = first; value <= high + step * 1e-9; value += step) found.push(+value.toPrecision(12));
  return found;
}

function label(value) {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return value.toExponential(1);
  return String(+value.toPrecision(4));
}

function extent(values, fixed) {
  if (fixed) return fixed;
  const finite = values.filter((v) => Number.isFinite(v));
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (!finite.length) return [0, 1];
  if (low === high) {
    low -= Math.abs(low) * 0.1 || 0.5;
    high += Math.abs(high) * 0.1 || 0.5;
  }
  const pad = (high - low) * 0.04;
  return [low - pad, high + pad];
}

function frame(title, width, height) {
  const id = `c-${Math.random().toString(36).slice(2, 9)}`;
  return svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": id, class: "chart" },
    svg("title", { id }, title),
  );
}

function legend(series) {
  const list = document.createElement("ul");
  list.className = "legend";
  series.forEach((item, index) => {
    if (!item.name) return;
    const li = document.createElement("li");
    const swatch = svg("svg", { width: 26, height: 12, "aria-hidden": "true" });
    if (item.type === "points") {
      swatch.append(marker(13, 6, index, item.color || PALETTE[index % PALETTE.length]));
    } else {
      swatch.append(
        svg("line", {
          x1: 1, y1: 6, x2: 25, y2: 6, stroke: item.color || PALETTE[index % PALETTE.length],
          "stroke-width": 2.5, "stroke-dasharray": item.dash ?? DASHES[index % DASHES.length],
        }),
      );
    }
    li.append(swatch, document.createTextNode(` ${item.name}`));
    list.append(li);
  });
  return list;
}

function marker(x, y, index, color) {
  const shape = index % 3;
  if (shape === 0) return svg("circle", { cx: x, cy: y, r: 3.5, fill: color, class: "point" });
  if (shape === 1) return svg("rect", { x: x - 3.2, y: y - 3.2, width: 6.4, height: 6.4, fill: color, class: "point" });
  return svg("path", { d: `M${x},${y - 4} L${x + 4},${y + 3.5} L${x - 4},${y + 3.5} Z`, fill: color, class: "point" });
}

// series: [{name, type: "line" | "points" | "step", x: [...], y: [...], color, dash}]
// options: {title, xLabel, yLabel, xDomain, yDomain, diagonal, categories (x tick names)}
export function plot(series, options) {
  const width = options.width || 460;
  const height = options.height || 300;
  const m = { left: 56, right: 14, top: 12, bottom: 44 };
  const xs = series.flatMap((s) => s.x);
  const ys = series.flatMap((s) => s.y);
  const [x0, x1] = extent(xs, options.xDomain);
  const [y0, y1] = extent(ys, options.yDomain);
  const sx = (v) => m.left + ((v - x0) / (x1 - x0)) * (width - m.left - m.right);
  const sy = (v) => height - m.bottom - ((v - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const chart = frame(options.title, width, height);
  const axes = svg("g", { class: "axes" });
  for (const t of ticks(y0, y1)) {
    axes.append(
      svg("line", { x1: m.left, x2: width - m.right, y1: sy(t), y2: sy(t), class: "grid" }),
      svg("text", { x: m.left - 6, y: sy(t) + 4, "text-anchor": "end" }, label(t)),
    );
  }
  const xt = options.categories ? options.categories.map((_, i) => i) : ticks(x0, x1);
  for (const t of xt) {
    axes.append(
      svg("line", { x1: sx(t), x2: sx(t), y1: height - m.bottom, y2: height - m.bottom + 4, class: "tick" }),
      svg("text", { x: sx(t), y: height - m.bottom + 16, "text-anchor": "middle" },
        options.categories ? String(options.categories[t]).slice(0, 10) : label(t)),
    );
  }
  axes.append(
    svg("line", { x1: m.left, x2: width - m.right, y1: height - m.bottom, y2: height - m.bottom, class: "axis" }),
    svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: height - m.bottom, class: "axis" }),
    svg("text", { x: (m.left + width - m.right) / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, options.xLabel || ""),
    svg("text", { x: 12, y: (m.top + height - m.bottom) / 2, "text-anchor": "middle", class: "axis-label",
      transform: `rotate(-90 12 ${(m.top + height - m.bottom) / 2})` }, options.yLabel || ""),
  );
  chart.append(axes);
  if (options.diagonal) {
    const low = Math.max(x0, y0);
    const high = Math.min(x1, y1);
    chart.append(svg("line", { x1: sx(low), y1: sy(low), x2: sx(high), y2: sy(high), class: "diagonal" }));
  }
  series.forEach((item, index) => {
    const color = item.color || PALETTE[index % PALETTE.length];
    const pairs = item.x.map((x, i) => [x, item.y[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const group = svg("g", { class: `series series-${item.type || "line"}`, "data-name": item.name || "", "data-points": pairs.length });
    if (item.type === "points") {
      for (const [x, y] of pairs) group.append(marker(sx(x), sy(y), index, color));
    } else {
      let d = "";
      pairs.forEach(([x, y], i) => {
        if (i === 0) d = `M${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
        else if (item.type === "step") d += ` H${sx(x).toFixed(1)} V${sy(y).toFixed(1)}`;
        else d += ` L${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      });
      group.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": 2,
        "stroke-dasharray": item.dash ?? DASHES[index % DASHES.length] }));
    }
    chart.append(group);
  });
  return figure(chart, series, options.caption);
}

function figure(chart, series, caption) {
  const node = document.createElement("figure");
  node.className = "chart-figure";
  node.append(chart);
  if (series && series.some((s) => s.name)) node.append(legend(series));
  if (caption) {
    const text = document.createElement("figcaption");
    text.textContent = caption;
    node.append(text);
  }
  return node;
}

// Horizontal bars, one per label, with an optional ± error whisker (feature importance).
export function bars(labels, values, { title, errors, xLabel } = {}) {
  const row = 22;
  const width = 460;
  const left = 170;
  const height = labels.length * row + 40;
  const low = Math.min(0, ...values.map((v, i) => v - (errors ? errors[i] : 0)));
  const high = Math.max(...values.map((v, i) => v + (errors ? errors[i] : 0)), 1e-12);
  const sx = (v) => left + ((v - low) / (high - low)) * (width - left - 16);
  const chart = frame(title, width, height);
  const group = svg("g", { class: "series series-bars", "data-points": values.length });
  labels.forEach((name, i) => {
    const y = 6 + i * row;
    const a = sx(Math.min(0, values[i]));
    const b = sx(Math.max(0, values[i]));
    group.append(
      svg("text", { x: left - 6, y: y + 14, "text-anchor": "end" }, String(name).slice(0, 26)),
      svg("rect", { x: a, y: y + 3, width: Math.max(1, b - a), height: row - 8, fill: PALETTE[0], class: "bar" },
        svg("title", {}, `${name}: ${label(values[i])}${errors ? ` ± ${label(errors[i])}` : ""}`)),
    );
    if (errors) {
      group.append(svg("line", { x1: sx(values[i] - errors[i]), x2: sx(values[i] + errors[i]),
        y1: y + row / 2, y2: y + row / 2, class: "whisker" }));
    }
  });
  chart.append(group);
  const axisY = labels.length * row + 10;
  chart.append(svg("line", { x1: sx(low), x2: sx(high), y1: axisY, y2: axisY, class: "axis" }));
  for (const t of ticks(low, high, 4)) {
    chart.append(svg("text", { x: sx(t), y: axisY + 14, "text-anchor": "middle" }, label(t)));
  }
  if (xLabel) chart.append(svg("text", { x: width - 16, y: axisY + 28, "text-anchor": "end", class: "axis-label" }, xLabel));
  return figure(chart);
}

// A histogram from bin edges and counts.
export function histogram(edges, counts, { title, xLabel }) {
  const x = [];
  const y = [];
  counts.forEach((count, i) => {
    x.push(edges[i], edges[i + 1]);
    y.push(count, count);
  });
  const width = 460;
  const height = 260;
  const m = { left: 56, right: 14, top: 12, bottom: 44 };
  const [x0, x1] = [edges[0], edges[edges.length - 1]];
  const top = Math.max(...counts, 1);
  const sx = (v) => m.left + ((v - x0) / (x1 - x0 || 1)) * (width - m.left - m.right);
  const sy = (v) => height - m.bottom - (v / top) * (height - m.top - m.bottom);
  const chart = frame(title, width, height);
  const group = svg("g", { class: "series series-bars", "data-points": counts.length });
  counts.forEach((count, i) => {
    group.append(svg("rect", { x: sx(edges[i]), y: sy(count), width: Math.max(1, sx(edges[i + 1]) - sx(edges[i]) - 1),
      height: sy(0) - sy(count), fill: PALETTE[0], class: "bar" },
      svg("title", {}, `${label(edges[i])} to ${label(edges[i + 1])}: ${count}`)));
  });
  chart.append(group);
  chart.append(svg("line", { x1: m.left, x2: width - m.right, y1: sy(0), y2: sy(0), class: "axis" }));
  for (const t of ticks(x0, x1)) chart.append(svg("text", { x: sx(t), y: sy(0) + 16, "text-anchor": "middle" }, label(t)));
  for (const t of ticks(0, top, 4)) chart.append(svg("text", { x: m.left - 6, y: sy(t) + 4, "text-anchor": "end" }, label(t)));
  chart.append(svg("text", { x: (m.left + width) / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, xLabel || ""));
  return figure(chart);
}

// The confusion matrix: rows are the actual class, columns the predicted one; each cell
// shows its count in words, and its shade (darker: more) repeats what the number says.
export function heatmap(labels, matrix, { title }) {
  const n = labels.length;
  const cell = Math.max(28, Math.min(64, Math.floor(360 / Math.max(n, 1))));
  const left = 110;
  const topPad = 40;
  const width = left + n * cell + 10;
  const height = topPad + n * cell + 40;
  const most = Math.max(1, ...matrix.flat());
  const chart = frame(title, width, height);
  const group = svg("g", { class: "series series-matrix", "data-points": n * n });
  matrix.forEach((row, i) => {
    group.append(svg("text", { x: left - 6, y: topPad + i * cell + cell / 2 + 4, "text-anchor": "end" }, String(labels[i]).slice(0, 14)));
    row.forEach((count, j) => {
      const shade = count / most;
      const light = Math.round(97 - shade * 62);
      const fill = `hsl(210 70% ${light}%)`;
      group.append(
        svg("rect", { x: left + j * cell, y: topPad + i * cell, width: cell - 2, height: cell - 2, fill,
          class: "cell", "data-count": count, "data-actual": labels[i], "data-predicted": labels[j] },
          svg("title", {}, `actual ${labels[i]}, predicted ${labels[j]}: ${count}`)),
        svg("text", { x: left + j * cell + cell / 2 - 1, y: topPad + i * cell + cell / 2 + 4, "text-anchor": "middle",
          class: light < 60 ? "cell-text dark" : "cell-text" }, String(count)),
      );
    });
  });
  labels.forEach((name, j) => {
    group.append(svg("text", { x: left + j * cell + cell / 2, y: topPad - 8, "text-anchor": "middle" }, String(name).slice(0, 8)));
  });
  chart.append(group);
  chart.append(
    svg("text", { x: left + (n * cell) / 2, y: 14, "text-anchor": "middle", class: "axis-label" }, "predicted"),
    svg("text", { x: 12, y: topPad + (n * cell) / 2, "text-anchor": "middle", class: "axis-label",
      transform: `rotate(-90 12 ${topPad + (n * cell) / 2})` }, "actual"),
  );
  return figure(chart);
}

// A job's timeline: one row per attempt, one bar per stage from its event to the next; each
// bar is named (in it when it fits, and in its tooltip), so the colour only repeats the name.
export function stageBars(rows, { title }) {
  const width = 900;
  const left = 80;
  const rowHeight = 30;
  const height = rows.length * rowHeight + 34;
  const starts = rows.flatMap((r) => r.segments.map((s) => s.start));
  const ends = rows.flatMap((r) => r.segments.map((s) => s.end));
  const t0 = Math.min(...starts);
  const t1 = Math.max(...ends, t0 + 1);
  const sx = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - 10);
  const chart = frame(title, width, height);
  const stages = [...new Set(rows.flatMap((r) => r.segments.map((s) => s.stage)))];
  const group = svg("g", { class: "series series-stages", "data-points": rows.reduce((n, r) => n + r.segments.length, 0) });
  rows.forEach((row, i) => {
    const y = 6 + i * rowHeight;
    group.append(svg("text", { x: left - 8, y: y + 18, "text-anchor": "end" }, row.name));
    for (const segment of row.segments) {
      const x = sx(segment.start);
      const w = Math.max(2, sx(segment.end) - x);
      const color = PALETTE[stages.indexOf(segment.stage) % PALETTE.length];
      group.append(svg("rect", { x, y, width: w, height: rowHeight - 6, fill: color, opacity: 0.85, class: "stage", "data-stage": segment.stage },
        svg("title", {}, `${segment.stage}: ${((segment.end - segment.start) / 1000).toFixed(2)} s`)));
      if (w > segment.stage.length * 6.5 + 6) {
        group.append(svg("text", { x: x + 4, y: y + 16, class: "cell-text dark" }, segment.stage));
      }
    }
  });
  chart.append(group);
  const named = stages.map((stage, i) => ({ name: stage, color: PALETTE[i % PALETTE.length], dash: "" }));
  const axisY = rows.length * rowHeight + 8;
  chart.append(svg("line", { x1: left, x2: width - 10, y1: axisY, y2: axisY, class: "axis" }));
  for (const t of ticks(0, (t1 - t0) / 1000, 6)) {
    chart.append(svg("text", { x: sx(t0 + t * 1000), y: axisY + 14, "text-anchor": "middle" }, `${label(t)}s`));
  }
  return figure(chart, named);
}
