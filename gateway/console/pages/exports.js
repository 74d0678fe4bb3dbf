// Exports: the datasets (every format each), any other source by name, the caller's statistics
// when the server offers them, and the full export history.

import { api } from "../api.js";
import { field, formatBytes, h, percent, replace, table } from "../dom.js";
import { exportHistory, exportPanel } from "../exportpanel.js";

const DATASETS = ["multi-agent", "temporal", "feedback", "effectiveness", "all", "fine-tune"];

function datasetPicker() {
  const panel = h("div");
  const select = h("select", { name: "dataset", id: "dataset-select" }, DATASETS.map((d) => h("option", { value: d }, d)));
  const show = () => replace(panel, exportPanel(`datasets/${select.value}`, { title: `Dataset ${select.value}`, level: "h3" }));
  select.addEventListener("change", show);
  show();
  return h("section", { "aria-labelledby": "datasets-title" }, h("h2", { id: "datasets-title" }, "Datasets"), field("Dataset", select), panel);
}

function otherSource() {
  const panel = h("div");
  const input = h("input", { type: "text", name: "source", required: true, placeholder: "artifacts/…" });
  return h(
    "section",
    { "aria-labelledby": "source-title" },
    h("h2", { id: "source-title" }, "Another source"),
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (event) => {
          event.preventDefault();
          const source = input.value.trim();
          replace(panel, exportPanel(source, { title: source, level: "h3" })); // the panel offers the source's formats
        },
      },
      field("Source", input, "prompts/{id}, artifacts/{id}, chats/{id} or datasets/{name}"),
      h("button", { type: "submit" }, "Choose"),
    ),
    panel,
  );
}

const STAT_COLUMNS = [
  ["exports", "Exports", String],
  ["size_bytes", "Size", formatBytes],
  ["stored_bytes", "Stored", formatBytes],
  ["cache_hits", "Cache hits", String],
  ["cache_hit_rate", "Hit rate", percent],
  ["downloads", "Downloads", String],
  ["link_downloads", "Through links", String],
];

function statsRow(name, figures) {
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, name),
    STAT_COLUMNS.map(([key, , show]) => h("td", { class: "num" }, figures?.[key] === undefined ? "—" : show(figures[key]))),
  );
}

/** Per format: exports, bytes, cache hits and downloads (the server's figures, when it has them). */
async function statistics() {
  let stats;
  try {
    stats = await api("/api/v1/exports/stats");
  } catch {
    return null;
  }
  if (!stats || typeof stats.formats !== "object") return null;
  const rows = Object.entries(stats.formats).map(([format, figures]) => statsRow(format, figures));
  rows.push(statsRow("all formats", stats.total));
  return h(
    "section",
    { "aria-labelledby": "stats-title" },
    h("h2", { id: "stats-title" }, "Statistics"),
    table("Your exports by format", ["Format", ...STAT_COLUMNS.map(([, label]) => [label, "num"])], rows, { id: "export-stats" }),
  );
}

export async function exportsPage() {
  return h(
    "div",
    {},
    h("h1", {}, "Exports"),
    datasetPicker(),
    otherSource(),
    await statistics(),
    h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "All exports"), exportHistory("", "Your exports, newest first").element),
  );
}
