// Charts as inline SVG: horizontal bars (one per agent) and the lineage graph of a prompt's versions.
// Each chart has a text alternative: a title and description for screen readers, and the same
// figures in a table or list beside it.

import { h, s, uid } from "./dom.js";

function shorten(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/**
 * A horizontal bar chart. items: [{label, value (null = no data), text}], max: the full-scale value.
 */
export function barChart({ title, items, max, name }) {
  // Label and value on one line, the bar under them: narrow enough to stay legible at 320 px.
  const width = 360;
  const rowHeight = 46;
  const height = Math.max(1, items.length) * rowHeight + 6;
  const titleId = uid("chart-title");
  const svg = s(
    "svg",
    { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": titleId, "data-chart": name },
    s("title", { id: titleId }, `${title}: ${items.map((i) => `${i.label} ${i.text}`).join(", ") || "no data"}`),
  );
  items.forEach((item, index) => {
    const y = 4 + index * rowHeight;
    const fraction = item.value === null || !max ? 0 : Math.max(0, Math.min(1, item.value / max));
    svg.append(
      s("text", { x: 0, y: y + 14, class: "chart-label" }, shorten(item.label, 28)),
      s("text", { x: width, y: y + 14, class: "chart-value", "text-anchor": "end" }, item.text),
      s("rect", { x: 0, y: y + 20, width, height: 16, class: "bar-track" }),
      s(
        "rect",
        { x: 0, y: y + 20, width: Math.max(fraction * width, item.value ? 2 : 0), height: 16, class: "bar" },
        s("title", {}, `${item.label}: ${item.text}`),
      ),
    );
  });
  if (items.length === 0) {
    svg.append(s("text", { x: 0, y: 24, class: "chart-label" }, "No data yet"));
  }
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, title), svg);
}

function depths(versions) {
  const byNo = new Map(versions.map((v) => [v.version_no, v]));
  const depth = new Map();
  const visit = (version, seen = new Set()) => {
    if (depth.has(version.version_no)) return depth.get(version.version_no);
    const parent = byNo.get(version.parent_version_no);
    const value = parent && !seen.has(parent.version_no) ? visit(parent, new Set([...seen, version.version_no])) + 1 : 0;
    depth.set(version.version_no, value);
    return value;
  };
  versions.forEach((v) => visit(v));
  return depth;
}

export function scoreChange(parent, child) {
  if (!parent?.scores || !child?.scores) return null;
  return child.scores.total - parent.scores.total;
}

export function signed(delta) {
  if (delta === null) return "unscored";
  if (delta === 0) return "±0";
  return `${delta > 0 ? "+" : "−"}${Math.abs(delta).toFixed(1)}`;
}

/** The versions as nodes in columns by depth, each parent link an edge labelled with the score change. */
export function lineageGraph(versions, bestNo) {
  const depth = depths(versions);
  const columns = new Map();
  for (const v of versions) {
    const d = depth.get(v.version_no);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(v);
  }
  const nodeW = 150;
  const nodeH = 58;
  const gapX = 90;
  const gapY = 26;
  const rows = Math.max(1, ...[...columns.values()].map((c) => c.length));
  const width = Math.max(1, columns.size) * (nodeW + gapX) - gapX + 20;
  const height = rows * (nodeH + gapY) - gapY + 20;
  const place = new Map();
  for (const [d, column] of columns) {
    column.forEach((v, i) => place.set(v.version_no, { x: 10 + d * (nodeW + gapX), y: 10 + i * (nodeH + gapY) }));
  }
  const titleId = uid("lineage-title");
  const svg = s(
    "svg",
    {
      class: "lineage",
      viewBox: `0 0 ${width} ${height}`,
      // Drawn at a legible size; a narrow window scrolls the graph, not the page.
      width: Math.round(width * 1.4),
      height: Math.round(height * 1.4),
      role: "img",
      "aria-labelledby": titleId,
      "data-chart": "lineage",
    },
    s("title", { id: titleId }, `Lineage of ${versions.length} versions; best head ${bestNo ? `v${bestNo}` : "none"}`),
  );
  const byNo = new Map(versions.map((v) => [v.version_no, v]));
  for (const v of versions) {
    const parent = byNo.get(v.parent_version_no);
    if (!parent) continue;
    const from = place.get(parent.version_no);
    const to = place.get(v.version_no);
    const x1 = from.x + nodeW;
    const y1 = from.y + nodeH / 2;
    const x2 = to.x;
    const y2 = to.y + nodeH / 2;
    const delta = scoreChange(parent, v);
    const kind = delta === null ? "none" : delta > 0 ? "up" : delta < 0 ? "down" : "same";
    svg.append(
      s("path", { d: `M${x1},${y1} C${x1 + gapX / 2},${y1} ${x2 - gapX / 2},${y2} ${x2},${y2}`, class: `edge edge-${kind}` }),
      s("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 5, class: `edge-label edge-${kind}`, "text-anchor": "middle" }, signed(delta)),
    );
  }
  for (const v of versions) {
    const { x, y } = place.get(v.version_no);
    const best = v.version_no === bestNo;
    svg.append(
      s(
        "g",
        { class: best ? "node node-best" : "node", "data-version": v.version_no },
        s("rect", { x, y, width: nodeW, height: nodeH, rx: 8 }),
        s("text", { x: x + 10, y: y + 22, class: "node-title" }, `${best ? "★ " : ""}v${v.version_no}`),
        s("text", { x: x + 10, y: y + 44, class: "node-sub" }, `${shorten(v.source || "—", 12)} · ${v.scores ? v.scores.total.toFixed(1) : "unscored"}`),
      ),
    );
  }
  return svg;
}
