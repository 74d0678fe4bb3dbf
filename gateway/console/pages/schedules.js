// Export schedules: the caller's schedules, a form to add one (source, format, cadence, mode and
// where runs go), and per schedule its runs: each window, its rows, bytes, attempts and errors.

import { api } from "../api.js";
import { field, formatBytes, formatTime, h, replace, table } from "../dom.js";
import { announce } from "../status.js";

const SOURCES = ["datasets/feedback", "datasets/temporal", "datasets/multi-agent", "datasets/effectiveness", "datasets/all"];
const FORMATS = ["csv", "jsonl", "json", "parquet", "xlsx", "yaml", "markdown", "text", "pdf", "docx"];
const S3_FIELDS = [
  ["bucket", "Bucket", "text"],
  ["endpoint_url", "Endpoint URL", "url"],
  ["region", "Region", "text"],
  ["prefix", "Key prefix", "text"],
  ["access_key_id", "Access key id", "text"],
  ["secret_access_key", "Secret access key", "password"],
];

function select(name, values, chosen) {
  return h("select", { name }, values.map((v) => h("option", { value: v, selected: v === chosen }, v)));
}

function destinationText(d) {
  return d.type === "s3" ? `s3://${d.bucket}/${d.prefix || ""}` : "this deployment's store";
}

function scheduleForm(done) {
  const source = h("input", { type: "text", name: "source", required: true, list: "schedule-sources", value: SOURCES[0] });
  const format = select("format", FORMATS, "csv");
  const every = h("input", { type: "text", name: "every", required: true, value: "daily" });
  const mode = select("mode", ["incremental", "full"], "incremental");
  const kind = select("destination", ["blobstore", "s3"], "blobstore");
  const s3 = S3_FIELDS.map(([name, label, type]) => [name, h("input", { type, name, autocomplete: "off" }), label]);
  const s3Box = h("fieldset", { hidden: true }, h("legend", {}, "S3 bucket"), s3.map(([, input, label]) => field(label, input)));
  kind.addEventListener("change", () => {
    s3Box.hidden = kind.value !== "s3";
  });
  const submit = async (event) => {
    event.preventDefault();
    const body = { source: source.value.trim(), format: format.value, every: every.value.trim(), mode: mode.value };
    if (kind.value === "s3") body.destination = { type: "s3", ...Object.fromEntries(s3.map(([name, input]) => [name, input.value.trim()])) };
    try {
      const created = await api("/api/v1/export-schedules", { method: "POST", json: body });
      announce(`Scheduled ${created.source} as ${created.format}, ${created.every}.`);
      done();
    } catch (error) {
      announce(error.message, "error");
    }
  };
  return h(
    "form",
    { class: "stack-form", id: "schedule-form", onsubmit: submit },
    h("datalist", { id: "schedule-sources" }, SOURCES.map((s) => h("option", { value: s }))),
    field("Source", source, "datasets/{name}, prompts/{id}, artifacts/{id} or chats/{id}"),
    field("Format", format),
    field("Every", every, "hourly, daily, weekly or a cron expression in UTC (minute hour day month weekday)"),
    field("Mode", mode, "incremental: only the rows changed in each window"),
    field("Deliver to", kind),
    s3Box,
    h("button", { type: "submit" }, "Add schedule"),
  );
}

function scheduleRow(item, reload) {
  const remove = async () => {
    await api(`/api/v1/export-schedules/${encodeURIComponent(item.id)}`, { method: "DELETE" });
    announce(`Schedule of ${item.source} deleted; its runs stay in Exports.`);
    reload();
  };
  return h(
    "tr",
    { "data-schedule": item.id },
    h("th", { scope: "row" }, h("a", { href: `#/schedules/${encodeURIComponent(item.id)}` }, item.source)),
    h("td", {}, item.format),
    h("td", {}, item.every),
    h("td", {}, item.mode),
    h("td", {}, destinationText(item.destination)),
    h("td", {}, formatTime(item.next_window_start)),
    h("td", {}, h("button", { type: "button", class: "danger", "aria-label": `Delete schedule of ${item.source}`, onclick: remove }, "Delete")),
  );
}

export async function schedulesPage() {
  const list = h("div");
  const load = async () => {
    const { items } = await api("/api/v1/export-schedules");
    replace(
      list,
      items.length === 0
        ? h("p", { class: "empty" }, "No schedules yet.")
        : table("Your schedules", ["Source", "Format", "Every", "Mode", "Delivered to", "Next window from", ""], items.map((item) => scheduleRow(item, load)), { id: "schedule-table" }),
    );
  };
  await load();
  return h(
    "div",
    {},
    h("h1", {}, "Export schedules"),
    h("p", { class: "muted" }, "Each window of a schedule becomes one export job, run once, retried until it succeeds."),
    list,
    h("section", { "aria-labelledby": "new-schedule" }, h("h2", { id: "new-schedule" }, "New schedule"), scheduleForm(load)),
  );
}

function runRow(run) {
  return h(
    "tr",
    { "data-status": run.status },
    h("td", {}, formatTime(run.window_start)),
    h("td", {}, formatTime(run.window_end)),
    h("td", {}, run.status),
    h("td", { class: "num" }, run.row_count),
    h("td", { class: "num" }, formatBytes(run.size_bytes)),
    h("td", { class: "num" }, run.attempts),
    h("td", {}, run.error || run.delivered_to || (run.status === "completed" ? h("a", { href: `/api/v1/exports/${encodeURIComponent(run.export_id)}/content` }, "in Exports") : "")),
  );
}

export async function schedulePage(id) {
  const path = `/api/v1/export-schedules/${encodeURIComponent(id)}`;
  const [item, runs] = await Promise.all([api(path), api(`${path}/runs`)]);
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: "#/schedules", class: "back-link" }, "← All schedules")),
    h("h1", {}, `Schedule of ${item.source}`),
    h("p", {}, `${item.format}, ${item.every}, ${item.mode}, to ${destinationText(item.destination)}.`),
    runs.items.length === 0
      ? h("p", { class: "empty" }, `No run yet: the first window ends at the next fire after ${formatTime(item.created_at)}.`)
      : table("Runs", ["Window from", "Window to", "Status", ["Rows", "num"], ["Size", "num"], ["Attempts", "num"], "Delivery or error"], runs.items.map(runRow), { id: "run-table" }),
  );
}
